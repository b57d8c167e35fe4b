//! Any bytes as a spool entry's payload: a record or an error, never a panic; what
//! decodes encodes to bytes that decode and encode to the same bytes again (compared as
//! bytes: a NaN field is not equal to itself as a number).
#![no_main]

use hypertick::spool::codec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((record, id)) = codec::decode(data) {
        let mut first = Vec::new();
        codec::encode(&record, id, &mut first);
        let (again, again_id) = codec::decode(&first).expect("its own encoding decodes");
        let mut second = Vec::new();
        codec::encode(&again, again_id, &mut second);
        assert_eq!(first, second);
    }
});
