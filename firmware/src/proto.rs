//! The UART request protocol of the board firmware (serve mode): the one definition of the frame
//! layout, the byte-at-a-time frame reader the soft-core runs, and the encoder the host
//! (`cnnfpga fpga classify`) calls. docs/fpga.md describes it for people.
//!
//! A request frame, all integers little-endian:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 4 | magic `"CNRQ"` |
//! | 4 | 1 | kind: 1 = classify, 2 = info |
//! | 5 | 3 | zero |
//! | 8 | 4 | payload length `n` |
//! | 12 | n | payload (classify: the HWC u8 image of the model's input shape; info: none) |
//! | 12 + n | 4 | CRC-32 (IEEE, [`crate::crc`]) of bytes 4 .. 12 + n |
//!
//! Replies are text lines (the same UART the boot transcript uses, readable in a terminal):
//! `result class <i> <name> logits <l0> ... cycles <n>`, `info ...`, or
//! `error <code> <name> [<a> <b>]` with the codes of [`ProtoError::code`]. Every frame gets
//! exactly one reply line, and so does every burst of bytes that is not a frame.
//!
//! The reader never waits on its own: the caller feeds it bytes ([`FrameReader::push`]) and
//! tells it when the line has been idle for [`IDLE_TIMEOUT_MS`] ([`FrameReader::idle`]): a frame
//! cut short is then reported, and after a frame with a wrong length the reader drops every
//! byte until such a pause, so that the rest of a bad frame is not taken for a new one.

#[cfg(feature = "alloc")]
extern crate alloc;

/// Request frame magic.
pub const MAGIC: [u8; 4] = *b"CNRQ";
/// Bytes before the payload: magic, kind, 3 zero bytes, length.
pub const HEADER_LEN: usize = 12;
/// Bytes after the payload: the CRC.
pub const TRAILER_LEN: usize = 4;
/// Kind byte of a classify request (payload: the input image).
pub const KIND_CLASSIFY: u8 = 1;
/// Kind byte of an info request (no payload).
pub const KIND_INFO: u8 = 2;
/// A pause on the line this long (milliseconds) ends a cut-short frame with
/// [`ProtoError::Timeout`] and ends the dropping of bytes after [`ProtoError::BadLength`].
pub const IDLE_TIMEOUT_MS: u32 = 50;
/// Reply code of a frame whose inference failed (after the [`ProtoError`] codes 1..=6).
pub const RUN_ERROR_CODE: u32 = 7;
/// The whole reply line of a failed inference (`error <RUN_ERROR_CODE> run`), as the firmware
/// prints it (one string: the soft-core's UART writer has no formatter to spare).
pub const RUN_ERROR_LINE: &str = "error 7 run";

/// Why a frame was refused. The firmware replies `error <code> <name> ...`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtoError {
    /// Bytes that do not start with [`MAGIC`] (reported once per burst).
    BadStart,
    /// A kind byte other than [`KIND_CLASSIFY`] and [`KIND_INFO`], or non-zero reserved bytes.
    BadKind {
        /// The kind byte.
        kind: u8,
    },
    /// The payload length is not what the kind needs (classify: the model's input size).
    BadLength {
        /// Length in the header.
        len: u32,
        /// Length expected.
        expected: u32,
    },
    /// The CRC does not match.
    Crc {
        /// CRC in the frame.
        got: u32,
        /// CRC of the received bytes.
        expected: u32,
    },
    /// The line went idle in the middle of a frame.
    Timeout {
        /// Bytes of the frame received.
        got: u32,
        /// Bytes the frame should have had.
        expected: u32,
    },
    /// The UART receiver lost a byte (overrun) or saw a bad stop bit.
    Line,
}

impl ProtoError {
    /// The numeric code of the reply line.
    pub fn code(self) -> u32 {
        match self {
            ProtoError::BadStart => 1,
            ProtoError::BadKind { .. } => 2,
            ProtoError::BadLength { .. } => 3,
            ProtoError::Crc { .. } => 4,
            ProtoError::Timeout { .. } => 5,
            ProtoError::Line => 6,
        }
    }

    /// The name of the reply line.
    pub fn name(self) -> &'static str {
        match self {
            ProtoError::BadStart => "bad-start",
            ProtoError::BadKind { .. } => "bad-kind",
            ProtoError::BadLength { .. } => "bad-length",
            ProtoError::Crc { .. } => "crc",
            ProtoError::Timeout { .. } => "timeout",
            ProtoError::Line => "line",
        }
    }

    /// The two numbers the reply line carries after the name, if any.
    pub fn numbers(self) -> Option<(u32, u32)> {
        match self {
            ProtoError::BadKind { kind } => Some((u32::from(kind), 0)),
            ProtoError::BadLength { len, expected } => Some((len, expected)),
            ProtoError::Crc { got, expected } => Some((got, expected)),
            ProtoError::Timeout { got, expected } => Some((got, expected)),
            ProtoError::BadStart | ProtoError::Line => None,
        }
    }
}

impl core::fmt::Display for ProtoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            ProtoError::BadStart => write!(f, "bytes outside a frame (no \"CNRQ\" magic)"),
            ProtoError::BadKind { kind } => write!(f, "unknown request kind {kind}"),
            ProtoError::BadLength { len, expected } => {
                write!(f, "payload of {len} bytes, expected {expected}")
            }
            ProtoError::Crc { got, expected } => {
                write!(f, "CRC {got:#010x} in the frame, {expected:#010x} computed")
            }
            ProtoError::Timeout { got, expected } => {
                write!(
                    f,
                    "frame cut short: {got} of {expected} bytes, then silence"
                )
            }
            ProtoError::Line => write!(f, "UART overrun or framing error"),
        }
    }
}

impl core::error::Error for ProtoError {}

/// What [`FrameReader::push`] and [`FrameReader::idle`] report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do yet.
    More,
    /// A whole, CRC-checked frame: the payload is in the buffer's first `len` bytes.
    Frame {
        /// [`KIND_CLASSIFY`] or [`KIND_INFO`].
        kind: u8,
        /// Payload bytes.
        len: u32,
    },
    /// Reply with this error (once); the reader is ready for the next frame.
    Error(ProtoError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Looking for the magic; `matched` bytes of it seen.
    Hunt { matched: u8, garbage: bool },
    /// Header bytes 4..12.
    Header,
    /// Payload bytes.
    Payload,
    /// CRC bytes.
    Trailer,
    /// Dropping bytes until the line is idle.
    Drain,
}

/// The byte-at-a-time frame reader (no allocation; the payload goes to a caller buffer).
#[derive(Clone, Debug)]
pub struct FrameReader {
    state: State,
    /// Bytes of the current frame so far (header included).
    n: u32,
    hdr: [u8; HEADER_LEN],
    kind: u8,
    len: u32,
    crc: u32,
    trailer: [u8; TRAILER_LEN],
    classify_len: u32,
}

impl FrameReader {
    /// A reader for a model whose input image is `classify_len` bytes.
    pub fn new(classify_len: u32) -> Self {
        FrameReader {
            state: State::Hunt {
                matched: 0,
                garbage: false,
            },
            n: 0,
            hdr: [0; HEADER_LEN],
            kind: 0,
            len: 0,
            crc: !0,
            trailer: [0; TRAILER_LEN],
            classify_len,
        }
    }

    /// True while a frame is partly received (the caller should then time the line and call
    /// [`FrameReader::idle`] after [`IDLE_TIMEOUT_MS`] of silence) or bytes are being dropped.
    pub fn waiting_for_idle(&self) -> bool {
        match self.state {
            State::Hunt { matched, garbage } => matched > 0 || garbage,
            State::Header | State::Payload | State::Trailer | State::Drain => true,
        }
    }

    fn hunt(&mut self) {
        self.state = State::Hunt {
            matched: 0,
            garbage: false,
        };
        self.n = 0;
    }

    /// The UART reported an overrun or framing error: the frame in flight is lost. Outside a
    /// frame (while dropping the rest of a refused one, or garbage: the firmware may have been
    /// busy sending that error's reply) bytes were being dropped anyway, so nothing is reported.
    pub fn line_error(&mut self) -> Step {
        let in_frame = match self.state {
            State::Hunt { matched, .. } => matched > 0,
            State::Header | State::Payload | State::Trailer => true,
            State::Drain => false,
        };
        let garbage = matches!(self.state, State::Hunt { garbage: true, .. });
        if in_frame || !garbage && matches!(self.state, State::Hunt { .. }) {
            self.state = State::Drain;
            if in_frame {
                return Step::Error(ProtoError::Line);
            }
        }
        Step::More
    }

    /// The line has been idle for [`IDLE_TIMEOUT_MS`].
    pub fn idle(&mut self) -> Step {
        match self.state {
            State::Header | State::Payload | State::Trailer => {
                let expected = HEADER_LEN as u32
                    + match self.state {
                        State::Header => 0,
                        _ => self.len,
                    }
                    + TRAILER_LEN as u32;
                let got = self.n;
                self.hunt();
                Step::Error(ProtoError::Timeout { got, expected })
            }
            State::Hunt { matched, .. } if matched > 0 => {
                let got = u32::from(matched);
                self.hunt();
                Step::Error(ProtoError::Timeout {
                    got,
                    expected: HEADER_LEN as u32,
                })
            }
            _ => {
                self.hunt();
                Step::More
            }
        }
    }

    /// Takes one received byte; payload bytes go to `buf[..len]` (a payload longer than `buf`
    /// is refused as [`ProtoError::BadLength`] before any byte is stored).
    pub fn push(&mut self, b: u8, buf: &mut [u8]) -> Step {
        match self.state {
            State::Hunt { matched, garbage } => {
                if b == MAGIC[matched as usize] {
                    let matched = matched + 1;
                    if matched as usize == MAGIC.len() {
                        self.state = State::Header;
                        self.n = MAGIC.len() as u32;
                        self.hdr[..4].copy_from_slice(&MAGIC);
                        self.crc = !0;
                    } else {
                        self.state = State::Hunt { matched, garbage };
                    }
                    Step::More
                } else {
                    // a mismatch may itself start the magic
                    let restart = u8::from(b == MAGIC[0]);
                    self.state = State::Hunt {
                        matched: restart,
                        garbage: true,
                    };
                    if garbage {
                        Step::More
                    } else {
                        Step::Error(ProtoError::BadStart)
                    }
                }
            }
            State::Header => {
                self.hdr[self.n as usize] = b;
                self.n += 1;
                self.crc = crate::crc::update(self.crc, &[b]);
                if self.n as usize == HEADER_LEN {
                    let kind = self.hdr[4];
                    let len =
                        u32::from_le_bytes([self.hdr[8], self.hdr[9], self.hdr[10], self.hdr[11]]);
                    if self.hdr[5..8] != [0, 0, 0] || (kind != KIND_CLASSIFY && kind != KIND_INFO) {
                        self.state = State::Drain;
                        return Step::Error(ProtoError::BadKind { kind });
                    }
                    let expected = if kind == KIND_CLASSIFY {
                        self.classify_len
                    } else {
                        0
                    };
                    if len != expected || len as usize > buf.len() {
                        self.state = State::Drain;
                        return Step::Error(ProtoError::BadLength { len, expected });
                    }
                    self.kind = kind;
                    self.len = len;
                    self.state = if len == 0 {
                        State::Trailer
                    } else {
                        State::Payload
                    };
                }
                Step::More
            }
            State::Payload => {
                let i = (self.n - HEADER_LEN as u32) as usize;
                buf[i] = b;
                self.n += 1;
                // byte by byte: a CRC over the whole payload at its end would keep a soft-core
                // away from the UART while the trailer arrives
                self.crc = crate::crc::update(self.crc, &[b]);
                if i + 1 == self.len as usize {
                    self.state = State::Trailer;
                }
                Step::More
            }
            State::Trailer => {
                let i = (self.n - HEADER_LEN as u32 - self.len) as usize;
                self.trailer[i] = b;
                self.n += 1;
                if i + 1 < TRAILER_LEN {
                    return Step::More;
                }
                let got = u32::from_le_bytes(self.trailer);
                let expected = !self.crc;
                let (kind, len) = (self.kind, self.len);
                self.hunt();
                if got == expected {
                    Step::Frame { kind, len }
                } else {
                    Step::Error(ProtoError::Crc { got, expected })
                }
            }
            State::Drain => Step::More,
        }
    }
}

impl FrameReader {
    /// [`FrameReader::push`] over `bytes` in order, up to and including the first byte whose
    /// step is not [`Step::More`]: returns how many bytes were taken and that step (`More`
    /// when all were). Steps and buffer contents are exactly those of pushing the same bytes
    /// one at a time (a unit test checks every split); a run of payload bytes is copied and
    /// CRC-checked as one slice. The serve loop of a CPU too slow to parse at line rate (the
    /// board's SERV) receives a burst raw and parses it with this afterwards.
    pub fn push_bytes(&mut self, bytes: &[u8], buf: &mut [u8]) -> (usize, Step) {
        let mut i = 0;
        while let Some(rest) = bytes.get(i..).filter(|r| !r.is_empty()) {
            if self.state == State::Payload {
                let at = (self.n - HEADER_LEN as u32) as usize;
                let take = (self.len as usize - at).min(rest.len());
                let src = &rest[..take];
                // len <= buf.len() was checked at the header
                if let Some(dst) = buf.get_mut(at..at + take) {
                    dst.copy_from_slice(src);
                }
                self.crc = crate::crc::update(self.crc, src);
                self.n += take as u32;
                i += take;
                if at + take == self.len as usize {
                    self.state = State::Trailer;
                }
                continue;
            }
            let step = self.push(rest[0], buf);
            i += 1;
            if step != Step::More {
                return (i, step);
            }
        }
        (i, Step::More)
    }
}

/// Writes the request frame of `kind` with `payload` into `out` (which must hold
/// `HEADER_LEN + payload.len() + TRAILER_LEN` bytes); returns the frame's length.
///
/// # Panics
/// If `out` is too short (a caller bug).
pub fn encode(kind: u8, payload: &[u8], out: &mut [u8]) -> usize {
    let n = HEADER_LEN + payload.len() + TRAILER_LEN;
    assert!(
        out.len() >= n,
        "proto::encode: buffer of {} < {n}",
        out.len()
    );
    out[..4].copy_from_slice(&MAGIC);
    out[4] = kind;
    out[5..8].fill(0);
    out[8..12].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    out[12..12 + payload.len()].copy_from_slice(payload);
    let crc = crate::crc::crc32(&out[4..12 + payload.len()]);
    out[12 + payload.len()..n].copy_from_slice(&crc.to_le_bytes());
    n
}

/// The whole request frame of `kind` with `payload` ([`encode`] into a fresh buffer; host side,
/// feature `alloc`).
#[cfg(feature = "alloc")]
pub fn frame(kind: u8, payload: &[u8]) -> alloc::vec::Vec<u8> {
    let mut out = alloc::vec![0u8; HEADER_LEN + payload.len() + TRAILER_LEN];
    encode(kind, payload, &mut out);
    out
}

/// A reply line of the firmware, parsed (host side; feature `alloc`).
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `result class <i> <name> logits <l0> ... cycles <n>`.
    Result {
        /// Class index.
        class: usize,
        /// Class name.
        name: alloc::string::String,
        /// Integer logits.
        logits: alloc::vec::Vec<i32>,
        /// Cycles of the inference (`SYS.CYCLES` around the runner).
        cycles: u64,
    },
    /// `info input <h>x<w>x<c> classes <n> names <a>,<b>,...`.
    Info {
        /// Input shape (h, w, c).
        input: (usize, usize, usize),
        /// Class names.
        names: alloc::vec::Vec<alloc::string::String>,
    },
    /// `error <code> <name> [<a> <b>]`.
    Error {
        /// [`ProtoError::code`], or [`RUN_ERROR_CODE`]: the inference failed.
        code: u32,
        /// [`ProtoError::name`].
        name: alloc::string::String,
        /// The two numbers, if any.
        numbers: Option<(u32, u32)>,
    },
}

/// Parses one reply line (without its newline); `None` for lines that are not replies (the
/// boot banner, the `serve` line).
#[cfg(feature = "alloc")]
pub fn parse_reply(line: &str) -> Option<Reply> {
    use alloc::string::ToString;
    let mut it = line.split_ascii_whitespace();
    match it.next()? {
        "result" => {
            if it.next()? != "class" {
                return None;
            }
            let class = it.next()?.parse().ok()?;
            let name = it.next()?.to_string();
            if it.next()? != "logits" {
                return None;
            }
            let mut logits = alloc::vec::Vec::new();
            loop {
                let t = it.next()?;
                if t == "cycles" {
                    break;
                }
                logits.push(t.parse().ok()?);
            }
            let cycles = it.next()?.parse().ok()?;
            it.next().is_none().then_some(Reply::Result {
                class,
                name,
                logits,
                cycles,
            })
        }
        "info" => {
            if it.next()? != "input" {
                return None;
            }
            let mut dims = it.next()?.split('x').map(|d| d.parse::<usize>().ok());
            let input = (dims.next()??, dims.next()??, dims.next()??);
            if dims.next().is_some() || it.next()? != "classes" {
                return None;
            }
            let n: usize = it.next()?.parse().ok()?;
            if it.next()? != "names" {
                return None;
            }
            let names: alloc::vec::Vec<_> =
                it.next()?.split(',').map(ToString::to_string).collect();
            (names.len() == n && it.next().is_none()).then_some(Reply::Info { input, names })
        }
        "error" => {
            let code = it.next()?.parse().ok()?;
            let name = it.next()?.to_string();
            let numbers = match (it.next(), it.next()) {
                (None, _) => None,
                (Some(a), Some(b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                (Some(_), None) => return None,
            };
            it.next().is_none().then_some(Reply::Error {
                code,
                name,
                numbers,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, payload: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        encode(kind, payload, &mut out);
        out
    }

    fn feed(r: &mut FrameReader, bytes: &[u8], buf: &mut [u8]) -> [Option<Step>; 4] {
        let mut steps = [None; 4];
        let mut k = 0;
        for &b in bytes {
            let s = r.push(b, buf);
            if s != Step::More {
                steps[k] = Some(s);
                k += 1;
            }
        }
        steps
    }

    #[cfg(feature = "alloc")]
    proptest::proptest! {
        /// `push_bytes` over any split of a byte stream (good, corrupted, cut and garbage
        /// frames) gives the steps and buffer of pushing byte by byte.
        #[test]
        fn push_bytes_equals_push_for_every_split(
            payloads in proptest::collection::vec(
                (0u8..4, proptest::collection::vec(proptest::num::u8::ANY, 5)), 1..5),
            cuts in proptest::collection::vec(1usize..40, 1..40),
        ) {
            let mut stream = alloc::vec::Vec::new();
            for (how, p) in &payloads {
                let mut f = super::frame(KIND_CLASSIFY, p);
                match how {
                    1 => f[13] ^= 0x40,               // corrupted payload
                    2 => f.truncate(f.len() - 3),     // cut short
                    3 => f.insert(0, 0x55),           // garbage before
                    _ => {}
                }
                stream.extend_from_slice(&f);
            }
            let (mut a, mut b) = (FrameReader::new(5), FrameReader::new(5));
            let (mut ba, mut bb) = ([0u8; 8], [0u8; 8]);
            let mut want = alloc::vec::Vec::new();
            for &x in &stream {
                let s = a.push(x, &mut ba);
                if s != Step::More {
                    want.push((s, ba));
                }
            }
            let mut got = alloc::vec::Vec::new();
            let (mut pos, mut k) = (0, 0);
            while pos < stream.len() {
                let end = (pos + cuts[k % cuts.len()]).min(stream.len());
                k += 1;
                let mut at = pos;
                while at < end {
                    let (used, s) = b.push_bytes(&stream[at..end], &mut bb);
                    proptest::prop_assert!(used >= 1 && at + used <= end);
                    at += used;
                    if s != Step::More {
                        got.push((s, bb));
                    }
                }
                pos = end;
            }
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(a.waiting_for_idle(), b.waiting_for_idle());
        }
    }

    #[test]
    fn good_frame_then_good_frame() {
        let mut r = FrameReader::new(5);
        let mut buf = [0u8; 16];
        let f = frame(KIND_CLASSIFY, &[1, 2, 3, 4, 5]);
        let n = HEADER_LEN + 5 + TRAILER_LEN;
        let s = feed(&mut r, &f[..n], &mut buf);
        assert_eq!(
            s[0],
            Some(Step::Frame {
                kind: KIND_CLASSIFY,
                len: 5
            })
        );
        assert_eq!(s[1], None);
        assert_eq!(&buf[..5], &[1, 2, 3, 4, 5]);
        assert!(!r.waiting_for_idle());
        let f = frame(KIND_INFO, &[]);
        let s = feed(&mut r, &f[..HEADER_LEN + TRAILER_LEN], &mut buf);
        assert_eq!(
            s[0],
            Some(Step::Frame {
                kind: KIND_INFO,
                len: 0
            })
        );
    }

    #[test]
    fn corrupted_payload_is_a_crc_error_and_the_next_frame_works() {
        let mut r = FrameReader::new(5);
        let mut buf = [0u8; 16];
        let n = HEADER_LEN + 5 + TRAILER_LEN;
        let mut f = frame(KIND_CLASSIFY, &[1, 2, 3, 4, 5]);
        f[14] ^= 0x10;
        let s = feed(&mut r, &f[..n], &mut buf);
        assert!(
            matches!(s[0], Some(Step::Error(ProtoError::Crc { .. }))),
            "{s:?}"
        );
        let f = frame(KIND_CLASSIFY, &[9, 8, 7, 6, 5]);
        let s = feed(&mut r, &f[..n], &mut buf);
        assert_eq!(
            s[0],
            Some(Step::Frame {
                kind: KIND_CLASSIFY,
                len: 5
            })
        );
        assert_eq!(&buf[..5], &[9, 8, 7, 6, 5]);
    }

    #[test]
    fn wrong_length_drains_until_idle() {
        let mut r = FrameReader::new(5);
        let mut buf = [0u8; 16];
        let f = frame(KIND_CLASSIFY, &[1, 2, 3]);
        let s = feed(&mut r, &f[..HEADER_LEN + 3 + TRAILER_LEN], &mut buf);
        assert_eq!(
            s[0],
            Some(Step::Error(ProtoError::BadLength {
                len: 3,
                expected: 5
            }))
        );
        assert_eq!(s[1], None, "the rest of the bad frame is dropped");
        assert!(r.waiting_for_idle());
        assert_eq!(r.idle(), Step::More);
        let f = frame(KIND_CLASSIFY, &[1, 2, 3, 4, 5]);
        let s = feed(&mut r, &f[..HEADER_LEN + 5 + TRAILER_LEN], &mut buf);
        assert_eq!(
            s[0],
            Some(Step::Frame {
                kind: KIND_CLASSIFY,
                len: 5
            })
        );
    }

    #[test]
    fn short_frame_times_out() {
        let mut r = FrameReader::new(5);
        let mut buf = [0u8; 16];
        let f = frame(KIND_CLASSIFY, &[1, 2, 3, 4, 5]);
        assert_eq!(feed(&mut r, &f[..15], &mut buf)[0], None);
        assert!(r.waiting_for_idle());
        assert_eq!(
            r.idle(),
            Step::Error(ProtoError::Timeout {
                got: 15,
                expected: 21
            })
        );
        assert!(!r.waiting_for_idle());
    }

    #[test]
    fn garbage_is_reported_once_and_a_frame_right_after_it_is_found() {
        let mut r = FrameReader::new(2);
        let mut buf = [0u8; 16];
        let mut bytes = [0u8; 40];
        bytes[..6].copy_from_slice(b"xxCNzz");
        let f = frame(KIND_CLASSIFY, &[7, 7]);
        bytes[6..6 + 18].copy_from_slice(&f[..18]);
        let s = feed(&mut r, &bytes[..24], &mut buf);
        assert_eq!(s[0], Some(Step::Error(ProtoError::BadStart)));
        assert_eq!(
            s[1],
            Some(Step::Frame {
                kind: KIND_CLASSIFY,
                len: 2
            })
        );
        assert_eq!(s[2], None);
    }

    #[test]
    fn unknown_kind_and_reserved_bytes_are_refused() {
        let mut r = FrameReader::new(2);
        let mut buf = [0u8; 16];
        let f = frame(7, &[]);
        let s = feed(&mut r, &f[..16], &mut buf);
        assert_eq!(s[0], Some(Step::Error(ProtoError::BadKind { kind: 7 })));
        r.idle();
        let mut f = frame(KIND_INFO, &[]);
        f[6] = 1;
        let s = feed(&mut r, &f[..16], &mut buf);
        assert_eq!(
            s[0],
            Some(Step::Error(ProtoError::BadKind { kind: KIND_INFO }))
        );
    }

    #[test]
    fn payload_larger_than_the_buffer_is_refused_before_storing() {
        let mut r = FrameReader::new(40);
        let mut buf = [0u8; 16];
        let mut out = [0u8; 64];
        let n = encode(KIND_CLASSIFY, &[3u8; 40], &mut out);
        let s = feed(&mut r, &out[..n], &mut buf);
        assert_eq!(
            s[0],
            Some(Step::Error(ProtoError::BadLength {
                len: 40,
                expected: 40
            }))
        );
        assert_eq!(buf, [0u8; 16]);
    }

    #[cfg(feature = "alloc")]
    #[test]
    fn reply_lines_parse() {
        use alloc::string::ToString;
        assert_eq!(
            parse_reply("result class 2 elephant logits -5 17 300 0 -1 cycles 123456"),
            Some(Reply::Result {
                class: 2,
                name: "elephant".to_string(),
                logits: alloc::vec![-5, 17, 300, 0, -1],
                cycles: 123_456,
            })
        );
        assert_eq!(
            parse_reply("error 3 bad-length 12 12288"),
            Some(Reply::Error {
                code: 3,
                name: "bad-length".to_string(),
                numbers: Some((12, 12288)),
            })
        );
        assert_eq!(
            parse_reply("info input 64x64x3 classes 2 names cat,cow"),
            Some(Reply::Info {
                input: (64, 64, 3),
                names: alloc::vec!["cat".to_string(), "cow".to_string()],
            })
        );
        assert_eq!(
            parse_reply(RUN_ERROR_LINE),
            Some(Reply::Error {
                code: RUN_ERROR_CODE,
                name: "run".to_string(),
                numbers: None,
            })
        );
        assert!((1..=6).all(|c| c != RUN_ERROR_CODE));
        assert_eq!(parse_reply("serve 64x64x3 bytes 12288"), None);
        assert_eq!(parse_reply("result class 2 x logits 1 2"), None);
        assert_eq!(parse_reply("info input 64x64 classes 1 names a"), None);
    }

    #[test]
    fn line_errors_outside_a_frame_are_not_reported() {
        let mut r = FrameReader::new(5);
        let mut buf = [0u8; 16];
        let f = frame(KIND_CLASSIFY, &[1, 2, 3]);
        assert!(matches!(
            feed(&mut r, &f[..12], &mut buf)[0],
            Some(Step::Error(ProtoError::BadLength { .. }))
        ));
        assert_eq!(
            r.line_error(),
            Step::More,
            "dropping the refused frame anyway"
        );
        assert_eq!(feed(&mut r, b"xyz", &mut buf)[0], None);
        assert_eq!(r.idle(), Step::More);
        assert_eq!(r.line_error(), Step::More, "idle line, nothing lost");
    }

    #[test]
    fn line_errors_drain() {
        let mut r = FrameReader::new(5);
        let mut buf = [0u8; 16];
        let f = frame(KIND_CLASSIFY, &[1, 2, 3, 4, 5]);
        feed(&mut r, &f[..10], &mut buf);
        assert_eq!(r.line_error(), Step::Error(ProtoError::Line));
        assert_eq!(feed(&mut r, &f[10..21], &mut buf)[0], None);
        assert_eq!(r.idle(), Step::More);
    }
}
