//! The sans-IO protocol core: one packet in, replies and events out.
//!
//! RFC 2131 message handling (DISCOVER → OFFER, REQUEST → ACK/NAK, RELEASE, DECLINE, INFORM),
//! proxyDHCP replies (PXE spec 2.1), relay agents (`giaddr`) and the netboot decision. The core
//! reads no clock and touches no socket: the caller passes `now` and the packet, and sends the
//! [`Reply`]s to their [`Destination`].

use std::collections::{BTreeSet, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::SystemTime;

use dhcproto::v4::{DhcpOption, HType, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Encodable};

use crate::Result;
use crate::boot::{BootFile, ClientKind};
use crate::config::{Config, Mac, Mode, Netboot, Reservation, UnknownClients};
use crate::lease::{Exclusions, Lease, LeaseState, LeaseStore, LeaseTable};

/// How many distinct unknown MACs are remembered for "logged once"; past it the memory is
/// cleared, so a flood of random MACs costs bounded memory and at most one event per MAC per
/// this many new MACs.
const IGNORED_MACS_REMEMBERED: usize = 65_536;

/// PXE vendor options (option 43): `PXE_DISCOVERY_CONTROL` (6) = 8, "use the boot file in this
/// reply, skip boot server discovery", then End. Sent in proxyDHCP replies, as smee and dnsmasq do.
const PXE_SKIP_DISCOVERY: [u8; 4] = [6, 1, 8, 255];

/// A received datagram.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// The UDP payload.
    pub packet: &'a [u8],
    /// Where it came from (a client on port 68, or a relay agent on port 67).
    pub source: SocketAddr,
    /// Index of the receiving interface, when the shell knows it (kept in events).
    pub interface: Option<u32>,
}

/// Where a reply must be sent (RFC 2131 4.1). Ports are the shell's business: the client
/// port (68) for [`Destination::Broadcast`] and [`Destination::Client`], the server port (67)
/// for [`Destination::Relay`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// The limited broadcast address: the client has no address yet (or must be NAKed). A
    /// userspace server cannot unicast to an unconfigured client without ARP injection, so
    /// this is also used when the client did not ask for broadcast.
    Broadcast,
    /// Unicast to a configured client (`ciaddr`: renewals, INFORM).
    Client(Ipv4Addr),
    /// Unicast to the relay agent (`giaddr`), which forwards to the client.
    Relay(Ipv4Addr),
}

/// An encoded reply and where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Destination of the datagram.
    pub destination: Destination,
    /// The encoded DHCP message.
    pub packet: Vec<u8>,
}

/// Why a packet was dropped as malformed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MalformedReason {
    /// dhcproto could not decode it.
    Decode(String),
    /// `op` is not BOOTREQUEST.
    NotARequest,
    /// Not Ethernet with a 6-byte hardware address.
    NotEthernet {
        /// `htype` as received.
        htype: u8,
        /// `hlen` as received.
        hlen: u8,
    },
    /// The magic cookie (99.130.83.99) is missing: not a DHCP packet.
    NoMagicCookie,
    /// No DHCP message type (option 53): a BOOTP request, not served.
    NoMessageType,
    /// An option whose length the codec cannot take (see `check_options`).
    BadOptionLength {
        /// Option code.
        code: u8,
        /// Its total length.
        len: usize,
    },
}

/// Something the server did or decided, for logs and per-machine timelines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A packet from a client this server serves (reserved, or pool when unknown clients are
    /// served) arrived; the first line of a machine's boot timeline.
    Received {
        /// Client.
        mac: Mac,
        /// The DHCP message type, lower case (`discover`, `request`, ...).
        message: &'static str,
        /// What the client announced (plain, PXE or iPXE, and its firmware).
        client: ClientKind,
    },
    /// An address was offered.
    Offered {
        /// Client.
        mac: Mac,
        /// Offered address.
        ip: Ipv4Addr,
        /// Boot file, if the client netboots.
        boot_file: Option<BootFile>,
    },
    /// A lease was acknowledged (bound or renewed).
    Acked {
        /// Client.
        mac: Mac,
        /// Leased address.
        ip: Ipv4Addr,
        /// Boot file, if the client netboots.
        boot_file: Option<BootFile>,
    },
    /// A REQUEST was refused.
    Naked {
        /// Client.
        mac: Mac,
        /// The address it asked for.
        requested: Option<Ipv4Addr>,
    },
    /// The client released its lease.
    Released {
        /// Client.
        mac: Mac,
        /// Released address.
        ip: Ipv4Addr,
    },
    /// The client declined an address (it found it in use).
    Declined {
        /// Client.
        mac: Mac,
        /// Declined address.
        ip: Ipv4Addr,
    },
    /// An INFORM was answered.
    Informed {
        /// Client.
        mac: Mac,
        /// Its self-configured address.
        ip: Ipv4Addr,
    },
    /// A proxyDHCP reply (boot options only) was sent.
    ProxyReplied {
        /// Client.
        mac: Mac,
        /// The boot file offered.
        boot_file: BootFile,
    },
    /// A MAC without a reservation was ignored; emitted once per MAC.
    UnknownClientIgnored {
        /// Client.
        mac: Mac,
    },
    /// A netbooting client whose machine may not netboot got no boot file.
    NetbootRefused {
        /// Client.
        mac: Mac,
    },
    /// A netbooting client's firmware has no boot file.
    NoBootFile {
        /// Client.
        mac: Mac,
        /// What the client announced.
        kind: ClientKind,
    },
    /// The pool has no free address for an unknown client.
    PoolExhausted {
        /// Client.
        mac: Mac,
    },
    /// The client chose another server's offer.
    OtherServerSelected {
        /// Client.
        mac: Mac,
        /// The server it chose.
        server: Ipv4Addr,
    },
    /// A well-formed packet that needs no reply.
    Ignored {
        /// Client.
        mac: Mac,
        /// Why.
        reason: &'static str,
    },
    /// A packet was dropped as malformed; no state changed.
    Malformed {
        /// Sender.
        source: SocketAddr,
        /// Receiving interface index.
        interface: Option<u32>,
        /// What is wrong.
        reason: MalformedReason,
    },
    /// A reply could not be encoded (not sent).
    EncodeFailed {
        /// Client.
        mac: Mac,
        /// The encoder's error.
        error: String,
    },
    /// Persisting a lease failed; the ACK was not sent.
    StoreFailed {
        /// Client.
        mac: Mac,
        /// The error chain.
        error: String,
    },
}

/// One result of handling a packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// A datagram to send.
    Reply(Reply),
    /// Something to log or record.
    Event(Event),
}

/// Who the client is to us (the reservation is copied so handlers may mutate the server).
enum Client {
    Reserved(Reservation),
    Pool,
}

/// The DHCP server state machine. Generic over its lease persistence.
#[derive(Debug)]
pub struct Server<S> {
    config: Config,
    store: S,
    table: LeaseTable,
    reserved_ips: BTreeSet<Ipv4Addr>,
    ignored_macs: HashSet<Mac>,
}

impl<S: LeaseStore> Server<S> {
    /// A server with `config`, starting from the leases in `store`. Stored leases whose address
    /// is now reserved for another machine are dropped.
    ///
    /// # Errors
    /// An invalid config ([`Config::validate`]) or a store that cannot be read or cleaned.
    pub fn new(config: Config, mut store: S) -> Result<Server<S>> {
        config.validate()?;
        let reserved_ips: BTreeSet<Ipv4Addr> = config.reservations.values().map(|r| r.ip).collect();
        let (keep, stale): (Vec<Lease>, Vec<Lease>) = store.load()?.into_iter().partition(|l| {
            !reserved_ips.contains(&l.ip) || config.reservations.get(&l.mac).is_some_and(|r| r.ip == l.ip)
        });
        for lease in stale {
            store.remove(lease.mac)?;
        }
        Ok(Server {
            table: LeaseTable::from_leases(keep),
            config,
            store,
            reserved_ips,
            ignored_macs: HashSet::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Every lease the server holds (offered and bound, active or not), in MAC order.
    pub fn leases(&self) -> Vec<Lease> {
        self.table.leases()
    }

    /// Allows or refuses network boot for a reserved machine (Tinkerbell's `allowPXE` toggle).
    /// Returns whether the MAC is reserved.
    pub fn set_netboot(&mut self, mac: Mac, netboot: Netboot) -> bool {
        match self.config.reservations.get_mut(&mac) {
            Some(r) => {
                r.netboot = netboot;
                true
            }
            None => false,
        }
    }

    /// The lease store, e.g. to [`LeaseStore::flush`] deferred writes before replies are sent.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The lease store, consuming the server.
    pub fn into_store(self) -> S {
        self.store
    }

    /// Handles one datagram. Never panics on any input; a malformed packet yields one
    /// [`Event::Malformed`] and changes nothing.
    pub fn handle(&mut self, now: SystemTime, input: Input<'_>) -> Vec<Output> {
        let mut out = Vec::new();
        let malformed = |reason| {
            vec![Output::Event(Event::Malformed {
                source: input.source,
                interface: input.interface,
                reason,
            })]
        };
        let has_cookie = input.packet.get(MAGIC_COOKIE_RANGE) == Some(&MAGIC_COOKIE[..]);
        if input.packet.len() >= OPTIONS_OFFSET && !has_cookie {
            return malformed(MalformedReason::NoMagicCookie);
        }
        if let Err(reason) = check_options(input.packet) {
            return malformed(reason);
        }
        let msg = match Message::from_bytes(input.packet) {
            Ok(msg) => msg,
            Err(e) => return malformed(MalformedReason::Decode(e.to_string())),
        };
        if msg.opcode() != Opcode::BootRequest {
            return malformed(MalformedReason::NotARequest);
        }
        // Checked before `chaddr()`, which slices by the received `hlen` and would panic past 16.
        if msg.htype() != HType::Eth || msg.hlen() != 6 {
            return malformed(MalformedReason::NotEthernet {
                htype: msg.htype().into(),
                hlen: msg.hlen(),
            });
        }
        let Some(DhcpOption::MessageType(kind)) = msg.opts().get(OptionCode::MessageType) else {
            return malformed(MalformedReason::NoMessageType);
        };
        let kind = *kind;
        let mut octets = [0u8; 6];
        octets.copy_from_slice(msg.chaddr());
        let mac = Mac::new(octets);

        let client = match self.config.reservations.get(&mac) {
            Some(r) => Client::Reserved(r.clone()),
            None if self.config.unknown_clients == UnknownClients::Serve => Client::Pool,
            None => {
                if self.ignored_macs.len() >= IGNORED_MACS_REMEMBERED {
                    self.ignored_macs.clear();
                }
                if self.ignored_macs.insert(mac) {
                    out.push(Output::Event(Event::UnknownClientIgnored { mac }));
                }
                return out;
            }
        };
        let request = Request {
            msg: &msg,
            mac,
            kind: ClientKind::of(&msg),
        };
        out.push(Output::Event(Event::Received {
            mac,
            message: message_name(kind),
            client: request.kind,
        }));
        let mut ctx = Ctx { now, out: &mut out };
        match self.config.mode {
            Mode::Proxy => self.handle_proxy(&mut ctx, &request, &client, kind),
            Mode::Authoritative => match kind {
                MessageType::Discover => self.discover(&mut ctx, &request, &client),
                MessageType::Request => self.request(&mut ctx, &request, &client),
                MessageType::Release => self.release(&mut ctx, &request),
                MessageType::Decline => self.decline(&mut ctx, &request, &client),
                MessageType::Inform => self.inform(&mut ctx, &request, &client),
                _ => ctx.event(Event::Ignored {
                    mac,
                    reason: "message type not handled",
                }),
            },
        }
        out
    }
}

/// The lower-case name of a DHCP message type, for events and timelines.
fn message_name(kind: MessageType) -> &'static str {
    match kind {
        MessageType::Discover => "discover",
        MessageType::Offer => "offer",
        MessageType::Request => "request",
        MessageType::Decline => "decline",
        MessageType::Ack => "ack",
        MessageType::Nak => "nak",
        MessageType::Release => "release",
        MessageType::Inform => "inform",
        _ => "other",
    }
}

/// A decoded, checked request.
struct Request<'m> {
    msg: &'m Message,
    mac: Mac,
    kind: ClientKind,
}

impl Request<'_> {
    fn requested_ip(&self) -> Option<Ipv4Addr> {
        match self.msg.opts().get(OptionCode::RequestedIpAddress) {
            Some(DhcpOption::RequestedIpAddress(ip)) => Some(*ip),
            _ => None,
        }
    }

    fn server_id(&self) -> Option<Ipv4Addr> {
        match self.msg.opts().get(OptionCode::ServerIdentifier) {
            Some(DhcpOption::ServerIdentifier(ip)) => Some(*ip),
            _ => None,
        }
    }

    fn ciaddr(&self) -> Option<Ipv4Addr> {
        Some(self.msg.ciaddr()).filter(|ip| !ip.is_unspecified())
    }

    fn giaddr(&self) -> Option<Ipv4Addr> {
        Some(self.msg.giaddr()).filter(|ip| !ip.is_unspecified())
    }

    /// RFC 2131 4.1: relay first, then a configured client, else broadcast.
    fn destination(&self, kind: MessageType) -> Destination {
        match (self.giaddr(), self.ciaddr()) {
            (Some(relay), _) => Destination::Relay(relay),
            (None, Some(ciaddr)) if kind != MessageType::Nak => Destination::Client(ciaddr),
            _ => Destination::Broadcast,
        }
    }
}

/// Per-packet output collector.
struct Ctx<'o> {
    now: SystemTime,
    out: &'o mut Vec<Output>,
}

impl Ctx<'_> {
    fn event(&mut self, event: Event) {
        self.out.push(Output::Event(event));
    }

    fn send(&mut self, req: &Request<'_>, reply: &Message, kind: MessageType) {
        match reply.to_vec() {
            Ok(packet) => self.out.push(Output::Reply(Reply {
                destination: req.destination(kind),
                packet,
            })),
            Err(e) => self.event(Event::EncodeFailed {
                mac: req.mac,
                error: e.to_string(),
            }),
        }
    }
}

/// Whether a reply carries lease times (not in an INFORM's ACK, RFC 2131 3.4).
#[derive(Clone, Copy, PartialEq, Eq)]
enum LeaseTime {
    Include,
    Omit,
}

/// Network parameters of a lease.
struct Params<'a> {
    netmask: Ipv4Addr,
    gateway: Option<Ipv4Addr>,
    nameservers: &'a [Ipv4Addr],
    hostname: Option<&'a str>,
}

impl<S: LeaseStore> Server<S> {
    fn exclusions(&self) -> Exclusions<'_> {
        Exclusions {
            reserved: &self.reserved_ips,
            server_ip: self.config.server_ip,
        }
    }

    /// The boot file for this client, with the event explaining a refusal.
    fn boot_file(&self, ctx: &mut Ctx<'_>, req: &Request<'_>, client: &Client) -> Option<BootFile> {
        if !req.kind.is_netboot() {
            return None;
        }
        match client {
            Client::Reserved(r) if r.netboot == Netboot::Allowed => {
                let file = BootFile::choose(req.kind, &self.config.boot);
                if file.is_none() {
                    ctx.event(Event::NoBootFile {
                        mac: req.mac,
                        kind: req.kind,
                    });
                }
                file
            }
            _ => {
                ctx.event(Event::NetbootRefused { mac: req.mac });
                None
            }
        }
    }

    /// The network parameters for `client`.
    fn params<'a>(&'a self, client: &'a Client) -> Params<'a> {
        match client {
            Client::Reserved(r) => Params {
                netmask: r.netmask,
                gateway: r.gateway,
                nameservers: &r.nameservers,
                hostname: r.hostname.as_deref(),
            },
            Client::Pool => {
                let pool = self.config.pool.as_ref();
                Params {
                    netmask: pool.map_or(Ipv4Addr::new(255, 255, 255, 0), |p| p.netmask),
                    gateway: pool.and_then(|p| p.gateway),
                    nameservers: pool.map_or(&[], |p| &p.nameservers),
                    hostname: None,
                }
            }
        }
    }

    /// A reply skeleton: BOOTREPLY echoing `xid`, `flags`, `giaddr`, `chaddr`, with options 53
    /// and 54.
    fn skeleton(&self, req: &Request<'_>, kind: MessageType) -> Message {
        let mut m = Message::default();
        m.set_opcode(Opcode::BootReply)
            .set_htype(HType::Eth)
            .set_xid(req.msg.xid())
            .set_flags(req.msg.flags())
            .set_giaddr(req.msg.giaddr())
            .set_chaddr(&req.mac.octets());
        m.opts_mut().insert(DhcpOption::MessageType(kind));
        m.opts_mut()
            .insert(DhcpOption::ServerIdentifier(self.config.server_ip));
        m
    }

    fn add_params(&self, m: &mut Message, p: &Params<'_>, lease_time: LeaseTime) {
        let opts = m.opts_mut();
        opts.insert(DhcpOption::SubnetMask(p.netmask));
        if let Some(gw) = p.gateway {
            opts.insert(DhcpOption::Router(vec![gw]));
        }
        if !p.nameservers.is_empty() {
            opts.insert(DhcpOption::DomainNameServer(p.nameservers.to_vec()));
        }
        if let Some(h) = p.hostname {
            opts.insert(DhcpOption::Hostname(h.to_string()));
        }
        if lease_time == LeaseTime::Include {
            let secs = u32::try_from(self.config.lease_time.as_secs()).unwrap_or(u32::MAX);
            opts.insert(DhcpOption::AddressLeaseTime(secs));
            opts.insert(DhcpOption::Renewal(secs / 2));
            opts.insert(DhcpOption::Rebinding(secs / 8 * 7));
        }
    }

    /// `siaddr`, `file`, options 66/67, and for PXE clients option 60 (and 97 echoed).
    fn add_boot(&self, m: &mut Message, req: &Request<'_>, file: &BootFile) {
        let tftp = self.config.boot.tftp_server;
        m.set_siaddr(tftp);
        let name = file.name();
        // `file` is 128 bytes including its terminating NUL; longer names go in option 67 only.
        if name.len() < 128 {
            m.set_fname(name.as_bytes());
        }
        let opts = m.opts_mut();
        opts.insert(DhcpOption::TFTPServerName(tftp.to_string().into_bytes()));
        opts.insert(DhcpOption::BootfileName(name.as_bytes().to_vec()));
        if let Some(DhcpOption::ClassIdentifier(vendor)) = req.msg.opts().get(OptionCode::ClassIdentifier) {
            let class: &[u8] = if vendor.starts_with(b"HTTPClient") {
                b"HTTPClient"
            } else {
                b"PXEClient"
            };
            opts.insert(DhcpOption::ClassIdentifier(class.to_vec()));
            // An offer with option 60 `PXEClient` and no option 43 is a "BINL" offer to UEFI
            // firmware (EDK2/OVMF), which then asks a boot server on port 4011 for the file and
            // gives up with PXE-E16 when none answers. Discovery control "use the boot file of
            // this offer" (as smee sends) makes it take the file named here.
            if class == b"PXEClient" && matches!(req.kind, ClientKind::Pxe(_)) {
                opts.insert(DhcpOption::VendorExtensions(PXE_SKIP_DISCOVERY.to_vec()));
            }
        }
        if let Some(uuid) = req.msg.opts().get(OptionCode::ClientMachineIdentifier) {
            opts.insert(uuid.clone());
        }
    }

    /// The address this client would be given now, holding nothing.
    fn address_for(&mut self, req: &Request<'_>, client: &Client, now: SystemTime) -> Option<Ipv4Addr> {
        match client {
            Client::Reserved(r) => Some(r.ip),
            Client::Pool => {
                let pool = self.config.pool.as_ref()?;
                let exclude = Exclusions {
                    reserved: &self.reserved_ips,
                    server_ip: self.config.server_ip,
                };
                self.table
                    .allocate(req.mac, req.requested_ip(), pool, &exclude, now)
            }
        }
    }

    fn discover(&mut self, ctx: &mut Ctx<'_>, req: &Request<'_>, client: &Client) {
        let Some(ip) = self.address_for(req, client, ctx.now) else {
            ctx.event(if self.config.pool.is_some() {
                Event::PoolExhausted { mac: req.mac }
            } else {
                Event::Ignored {
                    mac: req.mac,
                    reason: "no pool for unknown clients",
                }
            });
            return;
        };
        if matches!(client, Client::Pool) {
            let current = self.table.get(req.mac);
            let is_bound_here =
                current.is_some_and(|l| l.ip == ip && l.state == LeaseState::Bound && l.is_active(ctx.now));
            if !is_bound_here {
                self.table.insert(Lease {
                    mac: req.mac,
                    ip,
                    expires: ctx.now + self.config.offer_hold,
                    state: LeaseState::Offered,
                });
            }
        }
        let boot_file = self.boot_file(ctx, req, client);
        let mut m = self.skeleton(req, MessageType::Offer);
        m.set_yiaddr(ip);
        self.add_params(&mut m, &self.params(client), LeaseTime::Include);
        if let Some(file) = &boot_file {
            self.add_boot(&mut m, req, file);
        }
        ctx.event(Event::Offered {
            mac: req.mac,
            ip,
            boot_file,
        });
        ctx.send(req, &m, MessageType::Offer);
    }

    fn nak(&self, ctx: &mut Ctx<'_>, req: &Request<'_>, requested: Option<Ipv4Addr>) {
        let mut m = self.skeleton(req, MessageType::Nak);
        if req.giaddr().is_some() {
            // RFC 2131 4.3.2: the relay must broadcast a NAK to the client.
            m.set_flags(req.msg.flags().set_broadcast());
        }
        ctx.event(Event::Naked {
            mac: req.mac,
            requested,
        });
        ctx.send(req, &m, MessageType::Nak);
    }

    fn request(&mut self, ctx: &mut Ctx<'_>, req: &Request<'_>, client: &Client) {
        if let Some(server) = req.server_id()
            && server != self.config.server_ip
        {
            // The client took another server's offer: free what we held for it.
            if self
                .table
                .get(req.mac)
                .is_some_and(|l| l.state == LeaseState::Offered)
            {
                self.table.remove(req.mac);
            }
            ctx.event(Event::OtherServerSelected { mac: req.mac, server });
            return;
        }
        let target = req.requested_ip().or(req.ciaddr());
        let Some(target) = target else {
            self.nak(ctx, req, None);
            return;
        };
        let is_ours = match client {
            Client::Reserved(r) => r.ip == target,
            Client::Pool => self.config.pool.as_ref().is_some_and(|pool| {
                self.table
                    .is_free_for(target, req.mac, pool, &self.exclusions(), ctx.now)
            }),
        };
        if !is_ours {
            self.nak(ctx, req, Some(target));
            return;
        }
        let lease = Lease {
            mac: req.mac,
            ip: target,
            expires: ctx.now + self.config.lease_time,
            state: LeaseState::Bound,
        };
        // A reserved address is never given to anyone else, so its stored lease only informs
        // (it is what a restart shows): a re-bind while the held lease has more than half to
        // run (burst duplicates, early renewals) is not written again. A durable commit costs
        // ~170 us; the whole DORA in memory ~3 us.
        let is_fresh_reserved_lease = matches!(client, Client::Reserved(_))
            && self.table.get(req.mac).is_some_and(|held| {
                held.state == LeaseState::Bound
                    && held.ip == target
                    && held.expires >= ctx.now + self.config.lease_time / 2
            });
        if !is_fresh_reserved_lease && let Err(e) = self.store.put(&lease) {
            ctx.event(Event::StoreFailed {
                mac: req.mac,
                error: error_chain(&e),
            });
            return;
        }
        if let Some(evicted) = self.table.insert(lease)
            && evicted != req.mac
            && let Err(e) = self.store.remove(evicted)
        {
            ctx.event(Event::StoreFailed {
                mac: evicted,
                error: error_chain(&e),
            });
        }
        let boot_file = self.boot_file(ctx, req, client);
        let mut m = self.skeleton(req, MessageType::Ack);
        m.set_yiaddr(target).set_ciaddr(req.msg.ciaddr());
        self.add_params(&mut m, &self.params(client), LeaseTime::Include);
        if let Some(file) = &boot_file {
            self.add_boot(&mut m, req, file);
        }
        ctx.event(Event::Acked {
            mac: req.mac,
            ip: target,
            boot_file,
        });
        ctx.send(req, &m, MessageType::Ack);
    }

    fn release(&mut self, ctx: &mut Ctx<'_>, req: &Request<'_>) {
        let held = self.table.get(req.mac).map(|l| l.ip);
        match (held, req.ciaddr()) {
            (Some(ip), Some(ciaddr)) if ip == ciaddr => {
                self.table.remove(req.mac);
                if let Err(e) = self.store.remove(req.mac) {
                    ctx.event(Event::StoreFailed {
                        mac: req.mac,
                        error: error_chain(&e),
                    });
                }
                ctx.event(Event::Released { mac: req.mac, ip });
            }
            _ => ctx.event(Event::Ignored {
                mac: req.mac,
                reason: "release of an address the client does not hold",
            }),
        }
    }

    fn decline(&mut self, ctx: &mut Ctx<'_>, req: &Request<'_>, client: &Client) {
        let Some(ip) = req.requested_ip() else {
            ctx.event(Event::Ignored {
                mac: req.mac,
                reason: "decline without requested address",
            });
            return;
        };
        let is_held = self.table.get(req.mac).is_some_and(|l| l.ip == ip)
            || matches!(client, Client::Reserved(r) if r.ip == ip);
        if !is_held {
            ctx.event(Event::Ignored {
                mac: req.mac,
                reason: "decline of an address the client was not given",
            });
            return;
        }
        if self.table.get(req.mac).is_some_and(|l| l.ip == ip) {
            self.table.remove(req.mac);
            if let Err(e) = self.store.remove(req.mac) {
                ctx.event(Event::StoreFailed {
                    mac: req.mac,
                    error: error_chain(&e),
                });
            }
        }
        if matches!(client, Client::Pool) {
            self.table.decline(ip, ctx.now + self.config.lease_time);
        }
        ctx.event(Event::Declined { mac: req.mac, ip });
    }

    fn inform(&mut self, ctx: &mut Ctx<'_>, req: &Request<'_>, client: &Client) {
        let Some(ciaddr) = req.ciaddr() else {
            ctx.event(Event::Ignored {
                mac: req.mac,
                reason: "inform without ciaddr",
            });
            return;
        };
        let boot_file = self.boot_file(ctx, req, client);
        let mut m = self.skeleton(req, MessageType::Ack);
        m.set_ciaddr(ciaddr);
        self.add_params(&mut m, &self.params(client), LeaseTime::Omit);
        if let Some(file) = &boot_file {
            self.add_boot(&mut m, req, file);
        }
        ctx.event(Event::Informed {
            mac: req.mac,
            ip: ciaddr,
        });
        ctx.send(req, &m, MessageType::Ack);
    }

    /// proxyDHCP: boot options only, to netbooting reserved machines that may netboot.
    fn handle_proxy(&mut self, ctx: &mut Ctx<'_>, req: &Request<'_>, client: &Client, kind: MessageType) {
        let reply_kind = match kind {
            MessageType::Discover => MessageType::Offer,
            MessageType::Request
                if req
                    .server_id()
                    .is_none_or(|server| server == self.config.server_ip) =>
            {
                MessageType::Ack
            }
            _ => {
                ctx.event(Event::Ignored {
                    mac: req.mac,
                    reason: "proxyDHCP answers only DISCOVER and REQUEST to itself",
                });
                return;
            }
        };
        if !req.kind.is_netboot() {
            ctx.event(Event::Ignored {
                mac: req.mac,
                reason: "proxyDHCP answers only PXE clients",
            });
            return;
        }
        let Some(boot_file) = self.boot_file(ctx, req, client) else {
            return;
        };
        let mut m = self.skeleton(req, reply_kind);
        self.add_boot(&mut m, req, &boot_file);
        m.opts_mut()
            .insert(DhcpOption::ClassIdentifier(b"PXEClient".to_vec()));
        if matches!(req.kind, ClientKind::Pxe(_)) {
            m.opts_mut()
                .insert(DhcpOption::VendorExtensions(PXE_SKIP_DISCOVERY.to_vec()));
        }
        ctx.event(Event::ProxyReplied {
            mac: req.mac,
            boot_file,
        });
        ctx.send(req, &m, reply_kind);
    }
}

/// Offset of the options after the fixed header and the magic cookie.
const OPTIONS_OFFSET: usize = 240;
/// Where the magic cookie sits (dhcproto reads it without checking it).
const MAGIC_COOKIE_RANGE: std::ops::Range<usize> = 236..240;
/// RFC 2131 magic cookie.
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

/// Refuses option layouts the codec cannot take safely. dhcproto 0.15 `debug_assert!`s some
/// option lengths and subtracts from others unchecked (found by the `dhcp_packet` fuzz
/// target), so those lengths are checked here first, on the raw options. Like the codec,
/// consecutive instances of one code form one option (RFC 3396 long options). Truncation is
/// left to the codec, which reports it as an error.
fn check_options(packet: &[u8]) -> Result<(), MalformedReason> {
    const PAD: u8 = 0;
    const END: u8 = 255;
    let mut rest = packet.get(OPTIONS_OFFSET..).unwrap_or_default();
    // The option being accumulated: code and total length so far.
    let mut run: Option<(u8, usize)> = None;
    while let Some((&code, tail)) = rest.split_first() {
        if code == PAD || code == END {
            if let Some((code, len)) = run.take() {
                check_option_length(code, len)?;
            }
            if code == END {
                break;
            }
            rest = tail;
            continue;
        }
        let Some((&len, tail)) = tail.split_first() else {
            break;
        };
        run = match run {
            Some((prev, total)) if prev == code => Some((code, total + usize::from(len))),
            Some((prev, total)) => {
                check_option_length(prev, total)?;
                Some((code, usize::from(len)))
            }
            None => Some((code, usize::from(len))),
        };
        rest = tail.get(usize::from(len)..).unwrap_or_default();
    }
    if let Some((code, len)) = run {
        check_option_length(code, len)?;
    }
    Ok(())
}

/// The length rules the codec assumes.
fn check_option_length(code: u8, len: usize) -> Result<(), MalformedReason> {
    let is_valid = match code {
        80 => len == 0,        // Rapid Commit
        81 => len >= 3,        // Client FQDN: flags, rcode1, rcode2, name
        94 => len == 3,        // Client Network Interface: type, major, minor
        151 => len >= 1,       // BLQ status code: code, message
        152..=155 => len == 4, // BLQ times
        _ => true,
    };
    if is_valid {
        Ok(())
    } else {
        Err(MalformedReason::BadOptionLength { code, len })
    }
}

/// `error: cause: cause` for an event.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
