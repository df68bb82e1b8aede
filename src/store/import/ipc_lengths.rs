//! The lengths an Arrow IPC file or stream declares, checked against the file's size before arrow-ipc reads
//! it. arrow-ipc allocates each message's body at the length the file states (a file's footer blocks, a
//! stream's message headers), so one flipped bit in a length asked for petabytes and aborted the process
//! (found by the stress fuzz's mangled files). Only headers are read: bodies are skipped.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

/// A stream message's length prefix that announces a 32-bit length after it.
const CONTINUATION: [u8; 4] = [0xff; 4];

/// Checks an IPC file (`ARROW1` at both ends): every record batch and dictionary block of its footer lies
/// inside the file. `Err` says what is wrong.
pub fn check_file(file: &File, file_bytes: u64) -> Result<(), String> {
    let mut reader = file;
    let mut trailer = [0u8; 10];
    let trailer_at = file_bytes.checked_sub(10).ok_or("it is too short for an Arrow IPC file")?;
    reader.seek(SeekFrom::Start(trailer_at)).map_err(|e| e.to_string())?;
    reader.read_exact(&mut trailer).map_err(|e| e.to_string())?;
    let footer_len = arrow_ipc::reader::read_footer_length(trailer).map_err(|e| e.to_string())? as u64;
    let footer_at = trailer_at.checked_sub(footer_len).ok_or("its footer is longer than the file")?;
    let mut footer = vec![0u8; usize::try_from(footer_len).map_err(|e| e.to_string())?];
    reader.seek(SeekFrom::Start(footer_at)).map_err(|e| e.to_string())?;
    reader.read_exact(&mut footer).map_err(|e| e.to_string())?;
    reader.rewind().map_err(|e| e.to_string())?;
    let footer = arrow_ipc::root_as_footer(&footer).map_err(|e| format!("its footer is unreadable: {e}"))?;
    let blocks = footer.recordBatches().into_iter().flatten().chain(footer.dictionaries().into_iter().flatten());
    for block in blocks {
        let end = i128::from(block.offset()) + i128::from(block.metaDataLength()) + i128::from(block.bodyLength());
        if block.offset() < 0 || block.metaDataLength() < 0 || block.bodyLength() < 0 || end > i128::from(footer_at) {
            return Err(format!("a block claims bytes {}..{end}, beyond the data's {footer_at}", block.offset()));
        }
    }
    Ok(())
}

/// Checks an IPC stream: every message's metadata and body lie inside the file (an end marker or the end
/// of the file ends it).
pub fn check_stream(file: &File, file_bytes: u64) -> Result<(), String> {
    let mut reader = BufReader::new(file);
    let mut at: u64 = 0;
    let outcome = (|| {
        loop {
            let mut prefix = [0u8; 4];
            if reader.read_exact(&mut prefix).is_err() {
                return Ok(());
            }
            at += 4;
            if prefix == CONTINUATION {
                if reader.read_exact(&mut prefix).is_err() {
                    return Ok(());
                }
                at += 4;
            }
            let meta_len = i32::from_le_bytes(prefix);
            if meta_len == 0 {
                return Ok(()); // the end-of-stream marker
            }
            let meta_len = u64::try_from(meta_len).map_err(|_| format!("a message claims {meta_len} bytes"))?;
            if at + meta_len > file_bytes {
                return Err("a message runs past the end of the file (a truncated or damaged stream)".into());
            }
            let mut meta = vec![0u8; meta_len as usize];
            reader.read_exact(&mut meta).map_err(|e| e.to_string())?;
            at += meta_len;
            let message = arrow_ipc::root_as_message(&meta).map_err(|e| format!("a message is unreadable: {e}"))?;
            let body =
                u64::try_from(message.bodyLength()).map_err(|_| "a message claims a negative body".to_string())?;
            if at.saturating_add(body) > file_bytes {
                return Err(format!("a message claims a {body}-byte body, past the end of the {file_bytes}-byte file"));
            }
            reader.seek_relative(i64::try_from(body).unwrap_or(i64::MAX)).map_err(|e| e.to_string())?;
            at = at.saturating_add(body);
        }
    })();
    let mut file = file;
    file.rewind().map_err(|e| e.to_string())?;
    outcome
}
