//! Build script: napi-rs link settings for the addon.
fn main() {
    napi_build::setup();
}
