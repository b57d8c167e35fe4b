//! Any text as a push frame: parsed into records or rejections, never a panic; where
//! the fast path for plain ticks takes an element, it reads what the general path reads;
//! and a frame read in one pass reads as the same frame split and read element by element.
#![no_main]

use hypertick::record::Timestamp;
use hypertick::source::push::{fast_path_agrees, frame_path_agrees, parse_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    assert!(frame_path_agrees(text), "the frame and element paths disagree on {text}");
    if let Ok(elements) = parse_frame(text, Timestamp(1_795_348_800_000_000)) {
        for element in elements {
            // Every element's raw text is a slice of the frame.
            assert!(text.contains(element.raw));
            assert!(fast_path_agrees(element.raw), "the fast and general paths disagree on {}", element.raw);
        }
    }
});
