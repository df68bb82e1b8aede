//! A JS `onProgress` callback as the core's `ProgressSink`: events are queued to the JS thread through a
//! threadsafe function (never blocking the worker that reports them). A callback that throws is not
//! called again; the call it reports on goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use napi::bindgen_prelude::Function;
use napi::threadsafe_function::{ThreadsafeFunctionCallMode, UnknownReturnValue};

use super::options::ProgressEvent;
use crate::store::progress::{Progress, ProgressSink};

/// The sink for `callback` (made on the JS thread, called from any thread).
pub fn sink(callback: &Function<'_, ProgressEvent, UnknownReturnValue>) -> napi::Result<ProgressSink> {
    let function = Arc::new(callback.build_threadsafe_function::<ProgressEvent>().build()?);
    let threw = Arc::new(AtomicBool::new(false));
    Ok(Arc::new(move |progress: Progress| {
        if threw.load(Ordering::Relaxed) {
            return;
        }
        let threw = Arc::clone(&threw);
        // The status only says whether the event was queued; a closing environment drops it, as it should.
        let _queued = function.call_with_return_value(
            ProgressEvent::from(progress),
            ThreadsafeFunctionCallMode::NonBlocking,
            move |returned, _env| {
                if returned.is_err() {
                    threw.store(true, Ordering::Relaxed);
                }
                Ok(())
            },
        );
    }))
}
