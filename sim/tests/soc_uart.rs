//! The UART request protocol end to end on the Verilated board SoC (serve mode): the harness
//! drives the SoC's RX pin bit by bit at the board's divider (8N1, `BOARD_UART_DIV` cycles per
//! bit, as the FT2232H would), the firmware's frame reader (`firmware::proto`) answers, and the
//! replies are checked: good frames give the host's class and logits; a corrupted frame, a
//! frame of the wrong size, a frame cut short, an unknown kind and bytes outside a frame each
//! give their error reply, and the next good frame is still served.
//!
//! Model: the paper CNN's layer types at 24x24 input (`sim::paper`, random weights) so a frame
//! is 1,744 bytes (~3.3 M cycles on the line at the board's UART divider); the shipped 64x64 model is served through
//! `cnnfpga fpga classify --sim` in host/tests/fpga_classify.rs.
//!
//! Needs Verilator and the riscv32i target (scripts/setup.sh); fails without them.

use firmware::proto::{self, frame, parse_reply, Reply};
use sim::paper::{image, paper_cnn, reference};
use sim::soc::{Firmware, Flash, RunOptions, Session};

/// Cycles the firmware waits on a silent line before it ends a cut-short frame.
const IDLE_CYCLES: u64 =
    firmware::regs::BOARD_CLOCK_HZ as u64 / 1000 * proto::IDLE_TIMEOUT_MS as u64;
/// Generous bound for one reply (an inference on the board SoC plus the reply line).
const REPLY_CYCLES: u64 = 40_000_000;

fn reply(s: &mut Session) -> Reply {
    let line = s
        .read_line(REPLY_CYCLES)
        .unwrap_or_else(|e| panic!("{e:?}"));
    parse_reply(&line)
        .unwrap_or_else(|| panic!("not a reply line: {line:?}; UART so far:\n{}", s.text()))
}

fn expect_error(s: &mut Session, name: &str, numbers: Option<(u32, u32)>) {
    match reply(s) {
        Reply::Error {
            name: n,
            numbers: got,
            ..
        } if n == name && (numbers.is_none() || got == numbers) => {}
        r => panic!("expected error {name} {numbers:?}, got {r:?}"),
    }
}

fn expect_result(s: &mut Session, blob: &[u8], img: &[u8]) {
    let (class, logits) = reference(blob, img).unwrap();
    match reply(s) {
        Reply::Result {
            class: c,
            logits: l,
            cycles,
            ..
        } => {
            assert_eq!((c, &l), (class, &logits), "board SoC and host disagree");
            assert!(cycles > 0);
        }
        r => panic!("expected a result, got {r:?}"),
    }
}

#[test]
fn serve_mode_answers_good_and_bad_frames_over_the_rx_pin() {
    let fw = Firmware::build(&Firmware::default_target_dir()).unwrap_or_else(|e| panic!("{e}"));
    let blob = paper_cnn(9, 24, 24, 20);
    let n = 24 * 24 * 3;
    let flash = Flash::new(&fw, false, &blob, &[]).unwrap().serving();
    let mut s = Session::start(&flash, &RunOptions::default()).unwrap();
    let ready = s
        .read_line_starting("serve ", 100_000_000)
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(ready, format!("serve 24x24x3 bytes {n}"));

    // info
    s.send(&frame(proto::KIND_INFO, &[])).unwrap();
    match reply(&mut s) {
        Reply::Info { input, names } => {
            assert_eq!(input, (24, 24, 3));
            let m = firmware::model::Model::parse(&blob).unwrap();
            assert_eq!(names.len(), m.n_classes());
            assert_eq!(names[0], m.class_name(0).unwrap());
        }
        r => panic!("expected info, got {r:?}"),
    }

    // a corrupted frame (one payload bit flipped), then a good one
    let img_a = image(300, 24, 24, 3);
    let mut bad = frame(proto::KIND_CLASSIFY, &img_a);
    bad[proto::HEADER_LEN + 100] ^= 0x40;
    s.send(&bad).unwrap();
    expect_error(&mut s, "crc", None);
    s.send(&frame(proto::KIND_CLASSIFY, &img_a)).unwrap();
    expect_result(&mut s, &blob, &img_a);

    // the wrong size: refused at the header, the rest dropped until the line is quiet
    s.send(&frame(proto::KIND_CLASSIFY, &img_a[..100])).unwrap();
    expect_error(&mut s, "bad-length", Some((100, n as u32)));
    s.idle(2 * IDLE_CYCLES).unwrap();
    let img_b = image(301, 24, 24, 3);
    s.send(&frame(proto::KIND_CLASSIFY, &img_b)).unwrap();
    expect_result(&mut s, &blob, &img_b);

    // a frame cut short: the idle timeout ends it
    let good = frame(proto::KIND_CLASSIFY, &img_b);
    s.send(&good[..500]).unwrap();
    expect_error(&mut s, "timeout", Some((500, good.len() as u32)));

    // an unknown kind
    s.send(&frame(9, &[])).unwrap();
    expect_error(&mut s, "bad-kind", Some((9, 0)));
    s.idle(2 * IDLE_CYCLES).unwrap();

    // bytes outside a frame (someone typing into the terminal), then a good frame
    s.send(b"hello\r\n").unwrap();
    expect_error(&mut s, "bad-start", None);
    s.idle(2 * IDLE_CYCLES).unwrap();
    s.send(&good).unwrap();
    expect_result(&mut s, &blob, &img_b);
    eprintln!("{} cycles; transcript:\n{}", s.cycles(), s.text());
}
