//! TFTP wire format: RRQ/WRQ (with RFC 2347 options), DATA, ACK, ERROR and OACK packets.
//!
//! Pure: parsing never panics on any input (fuzzed by `fuzz/fuzz_targets/tftp_packet.rs`) and
//! encoding is infallible.

/// Smallest block size a client may ask for (RFC 2348).
pub const MIN_BLKSIZE: u16 = 8;
/// Largest block size a client may ask for (RFC 2348): 65535 minus IP and UDP headers.
pub const MAX_BLKSIZE: u16 = 65464;
/// Block size when the client negotiates none (RFC 1350).
pub const DEFAULT_BLKSIZE: u16 = 512;

const OP_RRQ: u16 = 1;
const OP_WRQ: u16 = 2;
const OP_DATA: u16 = 3;
const OP_ACK: u16 = 4;
const OP_ERROR: u16 = 5;
const OP_OACK: u16 = 6;

/// A packet that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Fewer than the 2 bytes of an opcode, or fewer than a packet of this opcode needs.
    #[error("tftp packet is truncated ({len} bytes)")]
    Truncated {
        /// Length of the datagram.
        len: usize,
    },
    /// The opcode is not one of RFC 1350/2347's six.
    #[error("unknown tftp opcode {0}")]
    UnknownOpcode(u16),
    /// A string field (file name, mode, option, error message) has no terminating NUL.
    #[error("tftp string field is not NUL-terminated")]
    UnterminatedString,
    /// A file name or mode is not UTF-8.
    #[error("tftp string field is not valid utf-8")]
    NotUtf8,
    /// The packet is not a read or write request where one was expected.
    #[error("expected a tftp read or write request, got opcode {0}")]
    NotARequest(u16),
}

/// Whether a request reads from or writes to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// RRQ: the client downloads a file.
    Read,
    /// WRQ: the client uploads a file (always refused by this server).
    Write,
}

/// A read or write request with its RFC 2347 options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// RRQ or WRQ.
    pub kind: RequestKind,
    /// The file name exactly as sent.
    pub filename: String,
    /// The transfer mode as sent (`octet`, `netascii`, `mail`; compared case-insensitively).
    pub mode: String,
    /// Options in the order sent, names lower-cased; duplicates keep their first value.
    pub options: Vec<(String, String)>,
}

impl Request {
    /// A read request in `octet` mode with the given options.
    pub fn read(filename: &str, options: &[(&str, &str)]) -> Self {
        Request {
            kind: RequestKind::Read,
            filename: filename.to_owned(),
            mode: "octet".to_owned(),
            options: options
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
                .collect(),
        }
    }

    /// Parses a datagram received on the listening port.
    ///
    /// # Errors
    /// Anything that is not a well-formed RRQ or WRQ.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        match Packet::parse(bytes)? {
            Packet::Request(request) => Ok(request),
            _ => Err(ParseError::NotARequest(opcode(bytes).unwrap_or(0))),
        }
    }

    /// The value of option `name` (lower-case), if the client sent it.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// RFC 1350 error codes (plus RFC 2347's code 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 0: not defined, see the message.
    NotDefined,
    /// 1: file not found.
    FileNotFound,
    /// 2: access violation.
    AccessViolation,
    /// 3: disk full or allocation exceeded.
    DiskFull,
    /// 4: illegal TFTP operation.
    IllegalOperation,
    /// 5: unknown transfer ID.
    UnknownTransferId,
    /// 6: file already exists.
    FileExists,
    /// 7: no such user.
    NoSuchUser,
    /// 8: option negotiation refused (RFC 2347).
    OptionRefused,
    /// Any other code a peer sent.
    Other(u16),
}

impl ErrorCode {
    /// The code on the wire.
    pub fn code(self) -> u16 {
        match self {
            ErrorCode::NotDefined => 0,
            ErrorCode::FileNotFound => 1,
            ErrorCode::AccessViolation => 2,
            ErrorCode::DiskFull => 3,
            ErrorCode::IllegalOperation => 4,
            ErrorCode::UnknownTransferId => 5,
            ErrorCode::FileExists => 6,
            ErrorCode::NoSuchUser => 7,
            ErrorCode::OptionRefused => 8,
            ErrorCode::Other(code) => code,
        }
    }

    /// The variant for a wire code.
    pub fn from_code(code: u16) -> Self {
        match code {
            0 => ErrorCode::NotDefined,
            1 => ErrorCode::FileNotFound,
            2 => ErrorCode::AccessViolation,
            3 => ErrorCode::DiskFull,
            4 => ErrorCode::IllegalOperation,
            5 => ErrorCode::UnknownTransferId,
            6 => ErrorCode::FileExists,
            7 => ErrorCode::NoSuchUser,
            8 => ErrorCode::OptionRefused,
            other => ErrorCode::Other(other),
        }
    }
}

/// Any TFTP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// RRQ or WRQ.
    Request(Request),
    /// DATA: one block of the file.
    Data {
        /// Block number (wraps from 65535 to 0).
        block: u16,
        /// Up to blksize bytes; a shorter block ends the transfer.
        data: Vec<u8>,
    },
    /// ACK of a DATA block, or of an OACK (block 0).
    Ack {
        /// The acknowledged block number.
        block: u16,
    },
    /// ERROR: ends the transfer.
    Error {
        /// The error code.
        code: ErrorCode,
        /// Human-readable text.
        message: String,
    },
    /// OACK: the options the server accepted (RFC 2347).
    Oack {
        /// Accepted options, lower-case names.
        options: Vec<(String, String)>,
    },
}

fn opcode(bytes: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]))
}

/// Splits off one NUL-terminated string.
fn take_cstr(bytes: &[u8]) -> Result<(&[u8], &[u8]), ParseError> {
    let end = bytes
        .iter()
        .position(|b| *b == 0)
        .ok_or(ParseError::UnterminatedString)?;
    Ok((&bytes[..end], &bytes[end + 1..]))
}

fn utf8(bytes: &[u8]) -> Result<String, ParseError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| ParseError::NotUtf8)
}

/// Parses `name\0value\0` pairs. Lenient like common servers: NUL padding and a trailing name
/// without a value are ignored; names are lower-cased; a repeated name keeps its first value.
fn parse_options(mut rest: &[u8]) -> Result<Vec<(String, String)>, ParseError> {
    let mut options: Vec<(String, String)> = Vec::new();
    while !rest.is_empty() {
        let Ok((name, after_name)) = take_cstr(rest) else {
            break;
        };
        if name.is_empty() {
            break;
        }
        let Ok((value, after_value)) = take_cstr(after_name) else {
            break;
        };
        rest = after_value;
        let name = utf8(name)?.to_ascii_lowercase();
        let value = utf8(value)?;
        if !options.iter().any(|(k, _)| *k == name) {
            options.push((name, value));
        }
    }
    Ok(options)
}

impl Packet {
    /// Parses one datagram.
    ///
    /// # Errors
    /// A truncated packet, an unknown opcode, or a string field without NUL or not UTF-8.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let truncated = ParseError::Truncated { len: bytes.len() };
        let op = opcode(bytes).ok_or_else(|| truncated.clone())?;
        let body = &bytes[2..];
        match op {
            OP_RRQ | OP_WRQ => {
                let (filename, rest) = take_cstr(body)?;
                let (mode, rest) = take_cstr(rest)?;
                Ok(Packet::Request(Request {
                    kind: if op == OP_RRQ {
                        RequestKind::Read
                    } else {
                        RequestKind::Write
                    },
                    filename: utf8(filename)?,
                    mode: utf8(mode)?,
                    options: parse_options(rest)?,
                }))
            }
            OP_DATA => {
                let block = opcode(body).ok_or(truncated)?;
                Ok(Packet::Data {
                    block,
                    data: body[2..].to_vec(),
                })
            }
            OP_ACK => Ok(Packet::Ack {
                block: opcode(body).ok_or(truncated)?,
            }),
            OP_ERROR => {
                let code = opcode(body).ok_or(truncated)?;
                // Some peers omit the final NUL; keep the text anyway.
                let text = &body[2..];
                let text = take_cstr(text).map(|(t, _)| t).unwrap_or(text);
                Ok(Packet::Error {
                    code: ErrorCode::from_code(code),
                    message: String::from_utf8_lossy(text).into_owned(),
                })
            }
            OP_OACK => Ok(Packet::Oack {
                options: parse_options(body)?,
            }),
            other => Err(ParseError::UnknownOpcode(other)),
        }
    }

    /// Encodes the packet for the wire.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Packet::Request(request) => {
                let op = match request.kind {
                    RequestKind::Read => OP_RRQ,
                    RequestKind::Write => OP_WRQ,
                };
                let mut out = op.to_be_bytes().to_vec();
                push_cstr(&mut out, &request.filename);
                push_cstr(&mut out, &request.mode);
                push_options(&mut out, &request.options);
                out
            }
            Packet::Data { block, data } => {
                let mut out = Vec::with_capacity(4 + data.len());
                out.extend_from_slice(&OP_DATA.to_be_bytes());
                out.extend_from_slice(&block.to_be_bytes());
                out.extend_from_slice(data);
                out
            }
            Packet::Ack { block } => ack(*block),
            Packet::Error { code, message } => error(*code, message),
            Packet::Oack { options } => {
                let mut out = OP_OACK.to_be_bytes().to_vec();
                push_options(&mut out, options);
                out
            }
        }
    }
}

fn push_cstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

fn push_options(out: &mut Vec<u8>, options: &[(String, String)]) {
    for (name, value) in options {
        push_cstr(out, name);
        push_cstr(out, value);
    }
}

/// Encodes an ACK without building a [`Packet`].
pub fn ack(block: u16) -> Vec<u8> {
    let mut out = OP_ACK.to_be_bytes().to_vec();
    out.extend_from_slice(&block.to_be_bytes());
    out
}

/// Encodes an ERROR without building a [`Packet`].
pub fn error(code: ErrorCode, message: &str) -> Vec<u8> {
    let mut out = OP_ERROR.to_be_bytes().to_vec();
    out.extend_from_slice(&code.code().to_be_bytes());
    push_cstr(&mut out, message);
    out
}

/// The 4-byte header of a DATA packet; the transfer appends the block's bytes.
pub(crate) fn data_header(block: u16) -> [u8; 4] {
    let [hi, lo] = block.to_be_bytes();
    let [op_hi, op_lo] = OP_DATA.to_be_bytes();
    [op_hi, op_lo, hi, lo]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rrq_with_options_parses_names_lowercased() {
        let bytes = b"\0\x01undionly.kpxe\0octet\0BLKSIZE\x001468\0tsize\x000\0";
        let request = Request::parse(bytes).unwrap();
        assert_eq!(request.kind, RequestKind::Read);
        assert_eq!(request.filename, "undionly.kpxe");
        assert_eq!(request.option("blksize"), Some("1468"));
        assert_eq!(request.option("tsize"), Some("0"));
    }

    #[test]
    fn rrq_tolerates_nul_padding_and_dangling_option_name() {
        let request = Request::parse(b"\0\x01f\0octet\0\0\0\0").unwrap();
        assert!(request.options.is_empty());
        let request = Request::parse(b"\0\x01f\0octet\0blksize\x001024\0windowsize").unwrap();
        assert_eq!(request.options, vec![("blksize".to_owned(), "1024".to_owned())]);
    }

    #[test]
    fn rrq_without_nul_after_mode_is_rejected() {
        assert_eq!(
            Request::parse(b"\0\x01file\0octet"),
            Err(ParseError::UnterminatedString)
        );
    }

    #[test]
    fn data_packet_is_not_a_request() {
        assert_eq!(
            Request::parse(b"\0\x03\0\x01abc"),
            Err(ParseError::NotARequest(3))
        );
    }

    #[test]
    fn short_and_unknown_packets_are_errors_not_panics() {
        assert!(Packet::parse(b"").is_err());
        assert!(Packet::parse(b"\0").is_err());
        assert!(Packet::parse(b"\0\x04\0").is_err());
        assert_eq!(Packet::parse(b"\0\x09"), Err(ParseError::UnknownOpcode(9)));
    }

    fn arb_string() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9._/-]{1,20}"
    }

    fn arb_packet() -> impl Strategy<Value = Packet> {
        let options = proptest::collection::vec(("[a-z]{1,10}", "[0-9]{1,6}"), 0..4).prop_map(|v| {
            let mut out: Vec<(String, String)> = Vec::new();
            for (k, val) in v {
                if !out.iter().any(|(n, _)| *n == k) {
                    out.push((k, val));
                }
            }
            out
        });
        prop_oneof![
            (arb_string(), options.clone(), any::<bool>()).prop_map(|(filename, options, read)| {
                Packet::Request(Request {
                    kind: if read {
                        RequestKind::Read
                    } else {
                        RequestKind::Write
                    },
                    filename,
                    mode: "octet".to_owned(),
                    options,
                })
            }),
            (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..600))
                .prop_map(|(block, data)| Packet::Data { block, data }),
            any::<u16>().prop_map(|block| Packet::Ack { block }),
            (0u16..20, "[ -~]{0,40}").prop_map(|(code, message)| Packet::Error {
                code: ErrorCode::from_code(code),
                message
            }),
            options.prop_map(|options| Packet::Oack { options }),
        ]
    }

    proptest! {
        #[test]
        fn encode_then_parse_round_trips(packet in arb_packet()) {
            prop_assert_eq!(Packet::parse(&packet.encode()), Ok(packet));
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Packet::parse(&bytes);
        }
    }
}
