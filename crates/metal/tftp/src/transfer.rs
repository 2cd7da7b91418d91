//! The sans-IO state machine of one read transfer.
//!
//! A transfer is created from a parsed [`Request`] with [`Transfer::start`] and then driven by
//! [`Transfer::handle`] with the packets that arrive from the client and with timer expiries. It
//! answers with [`Action`]s: datagrams to send, the deadline of the (single) retransmission timer,
//! and a final [`Outcome`]. It reads the file through the reader a [`FileSource`] returned and
//! never touches a socket or a clock: `now` is always passed in.
//!
//! Behaviour:
//! - Options (RFC 2347): `blksize` (RFC 2348, clamped to [`Config::max_blksize`], below 8 ignored),
//!   `tsize` and `timeout` (RFC 2349, timeout 1-255 s), `windowsize` (RFC 7440, clamped to
//!   [`Config::max_windowsize`]). Unknown or invalid options are left out of the OACK. With any
//!   option accepted the server sends an OACK and waits for ACK 0; otherwise it sends block 1.
//! - A client that answers an OACK with an ERROR (EDK2 does this after reading `tsize`) ends the
//!   transfer quietly.
//! - Windowed sending: up to `windowsize` blocks, then wait for an ACK. An ACK of any block in the
//!   window moves the window to the block after it (RFC 7440 section 4). A duplicate ACK of the
//!   already acknowledged block is ignored with a window of 1 (no Sorcerer's Apprentice
//!   retransmission); with a larger window the first duplicate at a position resends the window
//!   once (the client saw a gap), later ones are ignored. Otherwise only a timer expiry
//!   retransmits, and after [`Config::max_retries`] expiries without progress the transfer fails.
//! - Block numbers wrap from 65535 to 0, as tftpd-hpa and iPXE expect, so files of any size work.
//! - The transfer ends when the final block (shorter than blksize, possibly empty) is acknowledged.
//! - Write requests are refused (access violation); `netascii`/`mail` modes are refused; DATA,
//!   requests, OACK or garbage from the client during a transfer end it with "illegal operation".

use std::io::{self, Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

use crate::packet::{
    self, DEFAULT_BLKSIZE, ErrorCode, MAX_BLKSIZE, MIN_BLKSIZE, Packet, Request, RequestKind,
};
use crate::source::{self, FileSource};

/// Server-side limits and defaults for negotiation and retransmission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Largest block size granted (at most 65464).
    pub max_blksize: u16,
    /// Largest window granted.
    pub max_windowsize: u16,
    /// Retransmission timeout when the client negotiates none.
    pub default_timeout: Duration,
    /// Timer expiries without progress before the transfer fails.
    pub max_retries: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_blksize: MAX_BLKSIZE,
            max_windowsize: 64,
            default_timeout: Duration::from_secs(1),
            max_retries: 5,
        }
    }
}

/// Something that happened to the transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A datagram from the client's transfer ID.
    Packet(&'a [u8]),
    /// The timer armed by the last [`Action::ArmTimer`] expired.
    Timeout,
}

/// Something the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this datagram to the client.
    Send(Vec<u8>),
    /// (Re)arm the single retransmission timer to fire at this instant, replacing any earlier one.
    ArmTimer(Instant),
    /// The transfer is over; drop it and its socket.
    Finish(Outcome),
}

/// How a transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The client acknowledged the final block.
    Completed {
        /// File bytes sent.
        bytes: u64,
    },
    /// The request was refused with this error code before any data was sent.
    Refused(ErrorCode),
    /// The client sent an ERROR.
    PeerError {
        /// The client's code.
        code: ErrorCode,
        /// The client's message.
        message: String,
    },
    /// The client sent something that has no place in a read transfer.
    IllegalPacket,
    /// No progress after the retry limit.
    TimedOut,
    /// Reading the file failed.
    ReadFailed,
}

/// Values agreed with the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Data bytes per block.
    pub blksize: u16,
    /// Blocks sent before waiting for an ACK.
    pub windowsize: u16,
    /// Retransmission timeout.
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// OACK sent, waiting for ACK 0.
    AwaitOackAck,
    /// Data windows in flight.
    Sending,
    Finished,
}

/// One read transfer. See the module docs for the behaviour.
#[derive(Debug)]
pub struct Transfer<F> {
    reader: Option<F>,
    negotiated: Negotiated,
    max_retries: u32,
    phase: Phase,
    oack: Vec<u8>,
    /// Highest block number (absolute, not wrapped) the client acknowledged.
    acked: u64,
    /// Highest block number sent in the current window.
    sent: u64,
    /// Absolute number of the short block that ends the file, once read.
    final_block: Option<u64>,
    /// Bytes in the final block, to report the total.
    final_len: u64,
    /// Current offset of `reader`.
    position: u64,
    retries: u32,
    deadline: Option<Instant>,
    /// The `acked` value at which a duplicate ACK last triggered a window resend.
    fast_resent_at: Option<u64>,
}

/// The options accepted for `request`, in the order they will appear in the OACK.
fn negotiate(request: &Request, config: &Config, size_bytes: u64) -> (Negotiated, Vec<(String, String)>) {
    let mut negotiated = Negotiated {
        blksize: DEFAULT_BLKSIZE,
        windowsize: 1,
        timeout: config.default_timeout,
    };
    let mut accepted = Vec::new();
    for (name, value) in &request.options {
        let Ok(number) = value.trim().parse::<u64>() else {
            continue;
        };
        match name.as_str() {
            "blksize" if number >= u64::from(MIN_BLKSIZE) => {
                let max = config.max_blksize.clamp(MIN_BLKSIZE, MAX_BLKSIZE);
                negotiated.blksize = u16::try_from(number).unwrap_or(u16::MAX).min(max);
                accepted.push((name.clone(), negotiated.blksize.to_string()));
            }
            "windowsize" if number >= 1 => {
                let max = config.max_windowsize.max(1);
                negotiated.windowsize = u16::try_from(number).unwrap_or(u16::MAX).min(max);
                accepted.push((name.clone(), negotiated.windowsize.to_string()));
            }
            "timeout" if (1..=255).contains(&number) => {
                negotiated.timeout = Duration::from_secs(number);
                accepted.push((name.clone(), number.to_string()));
            }
            "tsize" => accepted.push((name.clone(), size_bytes.to_string())),
            _ => {}
        }
    }
    (negotiated, accepted)
}

impl<F: Read + Seek> Transfer<F> {
    /// Starts serving `request` from `source`: opens the file, negotiates options, and returns
    /// the first actions (an OACK or the first window, or an ERROR and [`Action::Finish`] when the
    /// request is refused).
    pub fn start<S>(now: Instant, request: &Request, source: &S, config: &Config) -> (Self, Vec<Action>)
    where
        S: FileSource<File = F> + ?Sized,
    {
        let mut transfer = Transfer {
            reader: None,
            negotiated: Negotiated {
                blksize: DEFAULT_BLKSIZE,
                windowsize: 1,
                timeout: config.default_timeout,
            },
            max_retries: config.max_retries,
            phase: Phase::Finished,
            oack: Vec::new(),
            acked: 0,
            sent: 0,
            final_block: None,
            final_len: 0,
            position: 0,
            retries: 0,
            deadline: None,
            fast_resent_at: None,
        };
        if request.kind == RequestKind::Write {
            return (
                transfer,
                refuse(ErrorCode::AccessViolation, "write requests are not supported"),
            );
        }
        if !request.mode.eq_ignore_ascii_case("octet") {
            let message = format!("transfer mode {} is not supported; use octet", request.mode);
            return (transfer, refuse(ErrorCode::IllegalOperation, &message));
        }
        let opened = match source.open(&request.filename) {
            Ok(opened) => opened,
            Err(err) => {
                let (code, message) = match &err {
                    source::Error::NotFound { .. } => (ErrorCode::FileNotFound, "file not found"),
                    source::Error::AccessDenied { .. } => (ErrorCode::AccessViolation, "access violation"),
                    source::Error::Io { .. } => (ErrorCode::NotDefined, "cannot open file"),
                };
                return (transfer, refuse(code, message));
            }
        };
        let (negotiated, accepted) = negotiate(request, config, opened.size_bytes);
        transfer.reader = Some(opened.reader);
        transfer.negotiated = negotiated;
        let actions = if accepted.is_empty() {
            transfer.phase = Phase::Sending;
            transfer.send_window(now)
        } else {
            transfer.phase = Phase::AwaitOackAck;
            transfer.oack = Packet::Oack { options: accepted }.encode();
            vec![Action::Send(transfer.oack.clone()), transfer.arm(now)]
        };
        (transfer, actions)
    }

    /// The values agreed with the client.
    pub fn negotiated(&self) -> Negotiated {
        self.negotiated
    }

    /// Whether the transfer is over; further events are ignored.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// Feeds one event and returns what to do.
    pub fn handle(&mut self, now: Instant, event: Event<'_>) -> Vec<Action> {
        match (self.phase, event) {
            (Phase::Finished, _) => Vec::new(),
            (_, Event::Timeout) => self.on_timeout(now),
            (_, Event::Packet(bytes)) => match Packet::parse(bytes) {
                Ok(Packet::Ack { block }) => self.on_ack(now, block),
                Ok(Packet::Error { code, message }) => {
                    self.phase = Phase::Finished;
                    vec![Action::Finish(Outcome::PeerError { code, message })]
                }
                Ok(Packet::Request(_) | Packet::Data { .. } | Packet::Oack { .. }) | Err(_) => self.fail(
                    ErrorCode::IllegalOperation,
                    "illegal tftp operation",
                    Outcome::IllegalPacket,
                ),
            },
        }
    }

    fn arm(&mut self, now: Instant) -> Action {
        let deadline = now + self.negotiated.timeout;
        self.deadline = Some(deadline);
        Action::ArmTimer(deadline)
    }

    fn fail(&mut self, code: ErrorCode, message: &str, outcome: Outcome) -> Vec<Action> {
        self.phase = Phase::Finished;
        self.deadline = None;
        vec![
            Action::Send(packet::error(code, message)),
            Action::Finish(outcome),
        ]
    }

    fn on_timeout(&mut self, now: Instant) -> Vec<Action> {
        match self.deadline {
            None => return Vec::new(),
            // Early or stale expiry: restate the deadline in force.
            Some(deadline) if now < deadline => return vec![Action::ArmTimer(deadline)],
            Some(_) => {}
        }
        self.retries += 1;
        if self.retries > self.max_retries {
            return self.fail(ErrorCode::NotDefined, "transfer timed out", Outcome::TimedOut);
        }
        match self.phase {
            Phase::AwaitOackAck => vec![Action::Send(self.oack.clone()), self.arm(now)],
            _ => self.send_window(now),
        }
    }

    fn on_ack(&mut self, now: Instant, block: u16) -> Vec<Action> {
        if self.phase == Phase::AwaitOackAck {
            if block != 0 {
                return Vec::new();
            }
            self.phase = Phase::Sending;
            self.retries = 0;
            return self.send_window(now);
        }
        // Map the 16-bit number onto the blocks in flight: acked+1 ..= sent.
        let offset = u64::from(block.wrapping_sub(self.acked as u16));
        if offset == 0 && self.negotiated.windowsize > 1 && self.fast_resent_at != Some(self.acked) {
            // RFC 7440: the client saw a gap right after `acked`. Resend the window once per
            // position; further duplicates wait for the timer, which bounds the Sorcerer's
            // Apprentice cascade that answering every duplicate would start.
            self.fast_resent_at = Some(self.acked);
            return self.send_window(now);
        }
        if offset == 0 || offset > self.sent - self.acked {
            // Duplicate or stale ACK: ignore, the timer covers real loss.
            return Vec::new();
        }
        self.acked += offset;
        self.retries = 0;
        if self.final_block == Some(self.acked) {
            self.phase = Phase::Finished;
            self.deadline = None;
            let bytes = (self.acked - 1) * u64::from(self.negotiated.blksize) + self.final_len;
            return vec![Action::Finish(Outcome::Completed { bytes })];
        }
        self.send_window(now)
    }

    /// Sends blocks `acked+1 ..` up to the window size or the final block, then arms the timer.
    fn send_window(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::with_capacity(usize::from(self.negotiated.windowsize.min(64)) + 1);
        let first = self.acked + 1;
        let last = self.acked + u64::from(self.negotiated.windowsize);
        for number in first..=last {
            if self.final_block.is_some_and(|f| number > f) {
                break;
            }
            match self.read_block(number) {
                Ok(datagram) => actions.push(Action::Send(datagram)),
                Err(_) => {
                    return self.fail(ErrorCode::NotDefined, "failed to read file", Outcome::ReadFailed);
                }
            }
            self.sent = number;
        }
        actions.push(self.arm(now));
        actions
    }

    /// Reads block `number` (1-based, absolute) into a DATA datagram.
    fn read_block(&mut self, number: u64) -> io::Result<Vec<u8>> {
        let blksize = usize::from(self.negotiated.blksize);
        let offset = (number - 1) * blksize as u64;
        let reader = self
            .reader
            .as_mut()
            .ok_or_else(|| io::Error::other("transfer has no file"))?;
        if self.position != offset {
            reader.seek(SeekFrom::Start(offset))?;
            self.position = offset;
        }
        let mut datagram = Vec::with_capacity(4 + blksize);
        datagram.extend_from_slice(&packet::data_header(number as u16));
        datagram.resize(4 + blksize, 0);
        let mut filled = 0;
        while filled < blksize {
            match reader.read(&mut datagram[4 + filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    // The reader's offset is unknown now; force a seek on the next read.
                    self.position = u64::MAX;
                    return Err(err);
                }
            }
        }
        self.position += filled as u64;
        datagram.truncate(4 + filled);
        if filled < blksize {
            self.final_block = Some(number);
            self.final_len = filled as u64;
        }
        Ok(datagram)
    }
}

fn refuse(code: ErrorCode, message: &str) -> Vec<Action> {
    vec![
        Action::Send(packet::error(code, message)),
        Action::Finish(Outcome::Refused(code)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemorySource;
    use std::io::Cursor;
    use std::sync::Arc;

    type MemTransfer = Transfer<Cursor<Arc<[u8]>>>;

    fn contents(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    fn source(len: usize) -> MemorySource {
        MemorySource::new().with("file", contents(len))
    }

    fn start(len: usize, options: &[(&str, &str)]) -> (MemTransfer, Vec<Action>, Instant) {
        let now = Instant::now();
        let (transfer, actions) = Transfer::start(
            now,
            &Request::read("file", options),
            &source(len),
            &Config::default(),
        );
        (transfer, actions, now)
    }

    fn sent(actions: &[Action]) -> Vec<Packet> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(bytes) => Some(Packet::parse(bytes).unwrap()),
                _ => None,
            })
            .collect()
    }

    fn data_blocks(actions: &[Action]) -> Vec<(u16, usize)> {
        sent(actions)
            .into_iter()
            .filter_map(|p| match p {
                Packet::Data { block, data } => Some((block, data.len())),
                _ => None,
            })
            .collect()
    }

    fn timer(actions: &[Action]) -> Option<Instant> {
        actions.iter().find_map(|a| match a {
            Action::ArmTimer(at) => Some(*at),
            _ => None,
        })
    }

    fn finish(actions: &[Action]) -> Option<Outcome> {
        actions.iter().find_map(|a| match a {
            Action::Finish(outcome) => Some(outcome.clone()),
            _ => None,
        })
    }

    fn ack(t: &mut MemTransfer, now: Instant, block: u16) -> Vec<Action> {
        t.handle(now, Event::Packet(&packet::ack(block)))
    }

    /// A well-behaved client: ACKs the last block of every window; returns the bytes received.
    fn download(t: &mut MemTransfer, mut actions: Vec<Action>, now: Instant) -> (Vec<u8>, Outcome) {
        let mut received = Vec::new();
        loop {
            if let Some(outcome) = finish(&actions) {
                return (received, outcome);
            }
            let mut last = None;
            for packet in sent(&actions) {
                match packet {
                    Packet::Oack { .. } => last = Some(0),
                    Packet::Data { block, data } => {
                        received.extend_from_slice(&data);
                        last = Some(block);
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            actions = ack(t, now, last.expect("every step sends something"));
        }
    }

    #[test]
    fn request_without_options_sends_block_one_without_oack() {
        let (t, actions, now) = start(100, &[]);
        assert_eq!(data_blocks(&actions), vec![(1, 100)]);
        assert_eq!(timer(&actions), Some(now + Duration::from_secs(1)));
        assert_eq!(t.negotiated().blksize, 512);
    }

    #[test]
    fn options_are_acknowledged_in_oack_and_data_waits_for_ack_zero() {
        let opts = [
            ("blksize", "1468"),
            ("tsize", "0"),
            ("timeout", "3"),
            ("windowsize", "4"),
            ("foo", "1"),
        ];
        let (mut t, actions, now) = start(5000, &opts);
        let expected: Vec<(String, String)> = [
            ("blksize", "1468"),
            ("tsize", "5000"),
            ("timeout", "3"),
            ("windowsize", "4"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(sent(&actions), vec![Packet::Oack { options: expected }]);
        assert_eq!(timer(&actions), Some(now + Duration::from_secs(3)));
        let actions = ack(&mut t, now, 0);
        assert_eq!(
            data_blocks(&actions),
            vec![(1, 1468), (2, 1468), (3, 1468), (4, 596)]
        );
    }

    #[test]
    fn blksize_is_clamped_to_server_maximum_and_tiny_values_are_ignored() {
        let now = Instant::now();
        let config = Config {
            max_blksize: 1024,
            max_windowsize: 8,
            ..Config::default()
        };
        let request = Request::read("file", &[("blksize", "65464"), ("windowsize", "100")]);
        let (t, actions) = Transfer::start(now, &request, &source(10), &config);
        assert_eq!(t.negotiated().blksize, 1024);
        assert_eq!(t.negotiated().windowsize, 8);
        assert!(matches!(&sent(&actions)[0], Packet::Oack { options } if options[0].1 == "1024"));

        let (t, actions, _) = start(10, &[("blksize", "4"), ("timeout", "0"), ("windowsize", "x")]);
        assert_eq!(t.negotiated().blksize, 512);
        assert_eq!(data_blocks(&actions), vec![(1, 10)], "no valid option: no OACK");
    }

    #[test]
    fn tsize_reports_file_size() {
        let (_, actions, _) = start(1_048_576, &[("tsize", "0")]);
        assert_eq!(
            sent(&actions),
            vec![Packet::Oack {
                options: vec![("tsize".into(), "1048576".into())]
            }]
        );
    }

    #[test]
    fn client_error_after_oack_ends_transfer_quietly() {
        let (mut t, _, now) = start(100, &[("tsize", "0")]);
        let actions = t.handle(
            now,
            Event::Packet(&packet::error(ErrorCode::OptionRefused, "just size")),
        );
        assert_eq!(
            actions,
            vec![Action::Finish(Outcome::PeerError {
                code: ErrorCode::OptionRefused,
                message: "just size".into()
            })]
        );
        assert!(t.is_finished());
    }

    #[test]
    fn windowed_sending_sends_full_windows_and_resumes_after_partial_ack() {
        let (mut t, _, now) = start(10 * 512 + 1, &[("windowsize", "4")]);
        let actions = ack(&mut t, now, 0);
        assert_eq!(
            data_blocks(&actions).iter().map(|b| b.0).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        // The client lost block 3: it acknowledges 2, and the window restarts at 3.
        let actions = ack(&mut t, now, 2);
        assert_eq!(
            data_blocks(&actions).iter().map(|b| b.0).collect::<Vec<_>>(),
            vec![3, 4, 5, 6]
        );
        let actions = ack(&mut t, now, 6);
        assert_eq!(
            data_blocks(&actions).iter().map(|b| b.0).collect::<Vec<_>>(),
            vec![7, 8, 9, 10]
        );
        let actions = ack(&mut t, now, 10);
        assert_eq!(
            data_blocks(&actions),
            vec![(11, 1)],
            "window stops at the final block"
        );
        assert_eq!(
            finish(&ack(&mut t, now, 11)),
            Some(Outcome::Completed { bytes: 10 * 512 + 1 })
        );
    }

    #[test]
    fn last_short_block_ends_transfer_when_acknowledged() {
        let (mut t, actions, now) = start(700, &[]);
        assert_eq!(data_blocks(&actions), vec![(1, 512)]);
        let actions = ack(&mut t, now, 1);
        assert_eq!(data_blocks(&actions), vec![(2, 188)]);
        assert_eq!(
            ack(&mut t, now, 2),
            vec![Action::Finish(Outcome::Completed { bytes: 700 })]
        );
        assert!(t.is_finished());
        assert!(
            t.handle(now, Event::Timeout).is_empty(),
            "finished transfers ignore events"
        );
    }

    #[test]
    fn exact_multiple_of_blksize_ends_with_empty_block() {
        let (mut t, actions, now) = start(1024, &[]);
        let (received, outcome) = download(&mut t, actions, now);
        assert_eq!(received, contents(1024));
        assert_eq!(outcome, Outcome::Completed { bytes: 1024 });

        let (mut t, _, now) = start(4 * 512, &[("windowsize", "2")]);
        let first = ack(&mut t, now, 0);
        assert_eq!(data_blocks(&first), vec![(1, 512), (2, 512)]);
        let actions = ack(&mut t, now, 2);
        assert_eq!(data_blocks(&actions), vec![(3, 512), (4, 512)]);
        let actions = ack(&mut t, now, 4);
        assert_eq!(data_blocks(&actions), vec![(5, 0)]);
        drop(actions);
    }

    #[test]
    fn empty_file_is_one_empty_block() {
        let (mut t, actions, now) = start(0, &[]);
        assert_eq!(data_blocks(&actions), vec![(1, 0)]);
        assert_eq!(
            ack(&mut t, now, 1),
            vec![Action::Finish(Outcome::Completed { bytes: 0 })]
        );
    }

    #[test]
    fn duplicate_ack_is_ignored_without_retransmission() {
        let (mut t, _, now) = start(5000, &[]);
        let actions = ack(&mut t, now, 1);
        assert_eq!(data_blocks(&actions), vec![(2, 512)]);
        assert!(
            ack(&mut t, now, 1).is_empty(),
            "duplicate ACK 1 must not resend block 2"
        );
        assert!(
            ack(&mut t, now, 7).is_empty(),
            "ACK of an unsent block is ignored"
        );
        assert_eq!(data_blocks(&ack(&mut t, now, 2)), vec![(3, 512)]);
    }

    #[test]
    fn duplicate_ack_in_window_mode_resends_window_once_per_position() {
        let (mut t, _, now) = start(20 * 512, &[("windowsize", "4")]);
        assert_eq!(data_blocks(&ack(&mut t, now, 0)).len(), 4);
        let window: Vec<u16> = data_blocks(&ack(&mut t, now, 4)).iter().map(|b| b.0).collect();
        assert_eq!(window, vec![5, 6, 7, 8]);
        // Block 5 was lost: the client repeats ACK 4, the window is resent once.
        let resent: Vec<u16> = data_blocks(&ack(&mut t, now, 4)).iter().map(|b| b.0).collect();
        assert_eq!(resent, vec![5, 6, 7, 8]);
        assert!(
            data_blocks(&ack(&mut t, now, 4)).is_empty(),
            "second duplicate waits for the timer"
        );
        let next: Vec<u16> = data_blocks(&ack(&mut t, now, 8)).iter().map(|b| b.0).collect();
        assert_eq!(next, vec![9, 10, 11, 12]);
        assert_eq!(
            data_blocks(&ack(&mut t, now, 8)).len(),
            4,
            "a new position allows one resend again"
        );
    }

    #[test]
    fn timeout_retransmits_window_then_gives_up_after_retry_limit() {
        let now = Instant::now();
        let config = Config {
            max_retries: 2,
            ..Config::default()
        };
        let request = Request::read("file", &[("windowsize", "2")]);
        let (mut t, actions) = Transfer::start(now, &request, &source(5000), &config);
        let mut deadline = timer(&actions).unwrap();
        let actions = t.handle(deadline, Event::Packet(&packet::ack(0)));
        deadline = timer(&actions).unwrap();
        let early = t.handle(deadline - Duration::from_millis(1), Event::Timeout);
        assert_eq!(
            early,
            vec![Action::ArmTimer(deadline)],
            "early expiry only restates the deadline"
        );
        for _ in 0..2 {
            let actions = t.handle(deadline, Event::Timeout);
            assert_eq!(data_blocks(&actions), vec![(1, 512), (2, 512)]);
            deadline = timer(&actions).unwrap();
        }
        let actions = t.handle(deadline, Event::Timeout);
        assert_eq!(finish(&actions), Some(Outcome::TimedOut));
        assert!(matches!(
            &sent(&actions)[0],
            Packet::Error {
                code: ErrorCode::NotDefined,
                ..
            }
        ));
    }

    #[test]
    fn progress_resets_the_retry_count() {
        let now = Instant::now();
        let config = Config {
            max_retries: 1,
            ..Config::default()
        };
        let (mut t, actions) = Transfer::start(now, &Request::read("file", &[]), &source(5000), &config);
        let deadline = timer(&actions).unwrap();
        let actions = t.handle(deadline, Event::Timeout);
        assert_eq!(data_blocks(&actions), vec![(1, 512)]);
        let actions = ack(&mut t, deadline, 1);
        let deadline = timer(&actions).unwrap();
        assert_eq!(data_blocks(&t.handle(deadline, Event::Timeout)), vec![(2, 512)]);
    }

    #[test]
    fn lost_oack_is_retransmitted_on_timeout() {
        let (mut t, actions, _) = start(10, &[("blksize", "1024")]);
        let deadline = timer(&actions).unwrap();
        let again = t.handle(deadline, Event::Timeout);
        assert_eq!(sent(&again), sent(&actions));
    }

    #[test]
    fn missing_file_is_refused_with_file_not_found() {
        let now = Instant::now();
        let (t, actions) = Transfer::start(now, &Request::read("nope", &[]), &source(1), &Config::default());
        assert!(matches!(
            &sent(&actions)[0],
            Packet::Error {
                code: ErrorCode::FileNotFound,
                ..
            }
        ));
        assert_eq!(finish(&actions), Some(Outcome::Refused(ErrorCode::FileNotFound)));
        assert!(t.is_finished());
    }

    #[test]
    fn traversal_is_refused_with_access_violation() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(dir.path().join("secret"), b"x").unwrap();
        let source = crate::DirSource::new(&root).unwrap();
        for name in ["../secret", "/etc/passwd"] {
            let (_, actions) = Transfer::start(
                Instant::now(),
                &Request::read(name, &[]),
                &source,
                &Config::default(),
            );
            assert_eq!(
                finish(&actions),
                Some(Outcome::Refused(ErrorCode::AccessViolation)),
                "{name}"
            );
        }
    }

    #[test]
    fn write_request_is_refused_with_access_violation() {
        let mut request = Request::read("file", &[]);
        request.kind = RequestKind::Write;
        let (_, actions): (MemTransfer, _) =
            Transfer::start(Instant::now(), &request, &source(1), &Config::default());
        assert!(matches!(
            &sent(&actions)[0],
            Packet::Error {
                code: ErrorCode::AccessViolation,
                ..
            }
        ));
        assert_eq!(
            finish(&actions),
            Some(Outcome::Refused(ErrorCode::AccessViolation))
        );
    }

    #[test]
    fn netascii_mode_is_refused_as_illegal_operation() {
        let mut request = Request::read("file", &[]);
        request.mode = "netascii".into();
        let (_, actions): (MemTransfer, _) =
            Transfer::start(Instant::now(), &request, &source(1), &Config::default());
        assert_eq!(
            finish(&actions),
            Some(Outcome::Refused(ErrorCode::IllegalOperation))
        );
    }

    #[test]
    fn data_or_garbage_from_client_is_an_illegal_operation() {
        for bytes in [&b"\0\x03\0\x01xx"[..], b"\0", b"\0\x01f\0octet\0", b"\x07\x07"] {
            let (mut t, _, now) = start(5000, &[]);
            let actions = t.handle(now, Event::Packet(bytes));
            assert!(matches!(
                &sent(&actions)[0],
                Packet::Error {
                    code: ErrorCode::IllegalOperation,
                    ..
                }
            ));
            assert_eq!(finish(&actions), Some(Outcome::IllegalPacket));
        }
    }

    #[test]
    fn block_numbers_wrap_after_65535() {
        let len = 65_536 * 8 + 3;
        let (mut t, actions, now) = start(len, &[("blksize", "8"), ("windowsize", "64")]);
        let (received, outcome) = download(&mut t, actions, now);
        assert_eq!(outcome, Outcome::Completed { bytes: len as u64 });
        assert!(received == contents(len), "content differs after wrap");
    }

    #[test]
    fn download_of_large_file_with_big_window_matches_source() {
        let len = 1_048_576 + 17;
        let (mut t, actions, now) = start(len, &[("blksize", "1468"), ("windowsize", "16"), ("tsize", "0")]);
        let (received, outcome) = download(&mut t, actions, now);
        assert_eq!(outcome, Outcome::Completed { bytes: len as u64 });
        assert!(received == contents(len));
    }
}
