//! Feeds arbitrary bytes to the TFTP request parser and, framed as a sequence of datagrams and
//! timer expiries, to a running read transfer. Any panic is a bug; so is a DATA block larger than
//! the negotiated blksize or an event after the transfer finished producing actions.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;

use anywhere_tftp::{Action, Config, Event, MemorySource, Packet, Request, Transfer};

fuzz_target!(|data: &[u8]| {
    let _ = Packet::parse(data);
    if let Ok(request) = Request::parse(data) {
        // Whatever request parses must start a transfer (or a refusal) without panicking.
        let source = MemorySource::new().with(request.filename.clone(), vec![7u8; 100]);
        let _ = Transfer::start(Instant::now(), &request, &source, &Config::default());
    }

    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let options: &[(&str, &str)] = match selector % 4 {
        0 => &[],
        1 => &[("blksize", "8"), ("windowsize", "3")],
        2 => &[("blksize", "512"), ("tsize", "0"), ("timeout", "1")],
        _ => &[("windowsize", "65535"), ("blksize", "65464")],
    };
    let file_len = usize::from(selector) * 7;
    let source = MemorySource::new().with("f", vec![0xA5u8; file_len]);
    let config = Config {
        max_retries: 3,
        ..Config::default()
    };
    let mut now = Instant::now();
    let (mut transfer, _) = Transfer::start(now, &Request::read("f", options), &source, &config);
    let blksize = usize::from(transfer.negotiated().blksize);
    // Frames: a length byte, then that many bytes as a datagram; length 0xFF is a timer expiry.
    while let Some((&len, tail)) = rest.split_first() {
        let was_finished = transfer.is_finished();
        let actions = if len == 0xFF {
            now += Duration::from_secs(1);
            rest = tail;
            transfer.handle(now, Event::Timeout)
        } else {
            let len = usize::from(len).min(tail.len());
            let (datagram, after) = tail.split_at(len);
            rest = after;
            transfer.handle(now, Event::Packet(datagram))
        };
        assert!(!was_finished || actions.is_empty(), "finished transfer acted");
        for action in actions {
            if let Action::Send(bytes) = action {
                if let Ok(Packet::Data { data, .. }) = Packet::parse(&bytes) {
                    assert!(data.len() <= blksize, "block larger than blksize");
                }
            }
        }
    }
});
