//! A small blocking TFTP read client (RFC 1350 + 2347/2348/2349/7440), shared by the loopback
//! integration test and the throughput bench so both servers are measured with the same client.

#![allow(dead_code)]
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use anywhere_tftp::{Packet, Request, packet};

/// Options to request; `None` leaves an option out of the RRQ.
#[derive(Debug, Clone, Copy, Default)]
pub struct GetOptions {
    pub blksize: Option<u16>,
    pub windowsize: Option<u16>,
    pub tsize: bool,
}

/// A finished download.
#[derive(Debug)]
pub struct Download {
    pub data: Vec<u8>,
    /// The server's OACK, empty when it sent none.
    pub oack: Vec<(String, String)>,
}

#[derive(Debug)]
pub enum ClientError {
    Server { code: u16, message: String },
    TimedOut,
    Protocol(String),
    Io(io::Error),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(err: io::Error) -> Self {
        ClientError::Io(err)
    }
}

const RETRIES: u32 = 5;

/// Downloads `file` from `server`.
pub fn get(server: SocketAddr, file: &str, options: GetOptions) -> Result<Download, ClientError> {
    let socket = UdpSocket::bind(SocketAddr::new(server.ip(), 0))?;
    // Room for a full window of large blocks (the kernel caps it at net.core.rmem_max).
    socket2::SockRef::from(&socket).set_recv_buffer_size(4 << 20)?;
    socket.set_read_timeout(Some(Duration::from_millis(500)))?;
    let blksize_text = options.blksize.map(|b| b.to_string());
    let window_text = options.windowsize.map(|w| w.to_string());
    let mut requested: Vec<(&str, &str)> = Vec::new();
    if let Some(b) = &blksize_text {
        requested.push(("blksize", b));
    }
    if let Some(w) = &window_text {
        requested.push(("windowsize", w));
    }
    if options.tsize {
        requested.push(("tsize", "0"));
    }
    let rrq = Packet::Request(Request::read(file, &requested)).encode();
    socket.send_to(&rrq, server)?;

    let mut blksize = 512usize;
    let mut windowsize = 1u16;
    let mut oack = Vec::new();
    let mut data = Vec::new();
    let mut expected: u16 = 1;
    let mut in_window: u16 = 0;
    let mut gap_reported = false;
    let mut connected = false;
    let mut timeouts = 0;
    let mut buf = vec![0u8; 65_536];
    loop {
        let len = match socket.recv_from(&mut buf) {
            Ok((len, from)) => {
                if !connected {
                    socket.connect(from)?;
                    connected = true;
                }
                len
            }
            Err(err) if matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                timeouts += 1;
                if timeouts > RETRIES {
                    return Err(ClientError::TimedOut);
                }
                if connected {
                    socket.send(&packet::ack(expected.wrapping_sub(1)))?;
                } else {
                    socket.send_to(&rrq, server)?;
                }
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        timeouts = 0;
        let datagram = &buf[..len];
        // DATA is parsed by hand: it is the hot path of the bench.
        if len >= 4 && datagram[..2] == [0, 3] {
            let block = u16::from_be_bytes([datagram[2], datagram[3]]);
            let payload = &datagram[4..];
            if block == expected {
                data.extend_from_slice(payload);
                expected = expected.wrapping_add(1);
                in_window += 1;
                gap_reported = false;
                if payload.len() < blksize {
                    socket.send(&packet::ack(block))?;
                    return Ok(Download { data, oack });
                }
                if in_window >= windowsize {
                    socket.send(&packet::ack(block))?;
                    in_window = 0;
                }
            } else if !gap_reported {
                // Lost or repeated block: acknowledge what arrived in order, once (RFC 7440).
                socket.send(&packet::ack(expected.wrapping_sub(1)))?;
                gap_reported = true;
                in_window = 0;
            }
            continue;
        }
        match Packet::parse(datagram) {
            Ok(Packet::Oack { options }) if expected == 1 && in_window == 0 => {
                for (name, value) in &options {
                    let parsed = value
                        .parse::<usize>()
                        .map_err(|_| ClientError::Protocol(format!("bad {name}")))?;
                    match name.as_str() {
                        "blksize" => blksize = parsed,
                        "windowsize" => windowsize = u16::try_from(parsed).unwrap_or(1).max(1),
                        _ => {}
                    }
                }
                oack = options;
                socket.send(&packet::ack(0))?;
            }
            Ok(Packet::Error { code, message }) => {
                return Err(ClientError::Server {
                    code: code.code(),
                    message,
                });
            }
            other => return Err(ClientError::Protocol(format!("unexpected packet {other:?}"))),
        }
    }
}
