//! Feeds arbitrary bytes through everything `anywhere validate` does to a file before
//! validation: size and UTF-8 checks, document splitting, YAML parsing under budgets, and the
//! strict and lenient typed decodes. Any panic, hang or unbounded allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

use anywhere_api::{Reading, document, parse_config_set};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = document::text_of(data) else { return };
    for reading in [Reading::Strict, Reading::Lenient] {
        if let Ok(set) = parse_config_set(text, reading) {
            // What parses must print and parse back to the same objects.
            let again = parse_config_set(&set.to_yaml(), Reading::Strict)
                .expect("a parsed spec prints as a spec that parses");
            assert_eq!(again.cluster, set.cluster);
        }
    }
});
