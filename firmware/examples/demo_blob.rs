//! Writes a small deterministic demo model and image for the soft-core, and prints what the
//! firmware must answer (the host run of the same blob with the same kernels).
//!
//! `cargo run -p firmware --features alloc --example demo_blob -- OUT_DIR`
//! writes `OUT_DIR/model.bin`, `OUT_DIR/image.bin` and `OUT_DIR/flash.bin` (blob padded to
//! the distance between the `FLASH_MODEL` and `FLASH_INPUT` areas, then the image: the flash
//! layout from `memmap::FLASH_MODEL_ADDR`).
//!
//! Model: 12x12x1 image -> conv 3x3, 4 channels, pool (5x5x4) -> P dense 100 -> 16 (4-bit
//! codes) -> dense 16 -> 10 logits. Weights from a fixed LCG: the numbers mean nothing.

use firmware::backend::SoftwareBackend;
use firmware::memmap::{FLASH_INPUT_OFFSET, FLASH_MODEL_OFFSET};
use firmware::model::*;
use firmware::numerics::Requant;
use firmware::runner::{arena_bytes, run};

struct Lcg(u32);
impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        self.0 >> 8
    }
    fn range(&mut self, lo: i32, hi: i32) -> i32 {
        lo + (self.next() % (hi - lo + 1) as u32) as i32
    }
}

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let mut r = Lcg(2024);
    let rq = |n: usize, m: u16, shift: u8| vec![Requant { m, shift }; n];
    let mut entries = Vec::new();
    let row_len = (0..16)
        .map(|_| {
            let row: Vec<i32> = (0..100)
                .map(|_| {
                    if r.next() & 3 == 0 {
                        [1, -1, 2, -2, 4, -4, 8][r.range(0, 6) as usize]
                    } else {
                        0
                    }
                })
                .collect();
            encode_p_row(1, &row, 4, &mut entries).unwrap()
        })
        .collect();
    let desc = ModelDesc {
        input: Shape { h: 12, w: 12, c: 1 },
        class_names: (0..10).map(|i| format!("digit{i}")).collect(),
        logit_scale: 1.0 / 256.0,
        layers: vec![
            LayerDesc::Conv {
                k: 3,
                cin: 1,
                cout: 4,
                pool: true,
                weights: (0..36).map(|_| r.range(-127, 127) as i8).collect(),
                bias: (0..4).map(|_| r.range(-2000, 2000)).collect(),
                rq: rq(4, 20_000, 22),
            },
            LayerDesc::DenseP {
                n_in: 100,
                n_out: 16,
                bits: 4,
                n2: -6,
                row_len,
                entries,
                bias: vec![64; 16],
                rq: Some(rq(16, 16_384, 17)),
            },
            LayerDesc::Dense {
                n_in: 16,
                n_out: 10,
                weights: (0..160).map(|_| r.range(-127, 127) as i8).collect(),
                bias: (0..10).map(|_| r.range(-500, 500)).collect(),
                rq: None,
            },
        ],
    };
    let blob = encode(&desc).expect("valid demo model");
    let image: Vec<u8> = (0..144)
        .map(|i| ((i * 37 + (i / 12) * 11) % 256) as u8)
        .collect();
    let m = Model::parse(&blob).unwrap();
    let mut arena = vec![0u8; arena_bytes(&m)];
    let mut logits = vec![0i32; m.n_classes()];
    let info = run(
        &m,
        &image,
        &mut arena,
        &mut SoftwareBackend,
        &mut logits,
        &mut (),
    )
    .unwrap();
    let mut flash = blob.clone();
    flash.resize((FLASH_INPUT_OFFSET - FLASH_MODEL_OFFSET) as usize, 0);
    flash.extend_from_slice(&image);
    while flash.len() & 3 != 0 {
        flash.push(0);
    }
    std::fs::write(format!("{out}/model.bin"), &blob).unwrap();
    std::fs::write(format!("{out}/image.bin"), &image).unwrap();
    std::fs::write(format!("{out}/flash.bin"), &flash).unwrap();
    println!("model {} bytes, arena {} bytes", blob.len(), arena.len());
    for l in info.layers() {
        println!("layer {} macs {}", l.index, l.macs);
    }
    println!("class {} {}", info.class, m.class_name(info.class).unwrap());
    print!("logits");
    for l in &logits {
        print!(" {l}");
    }
    println!();
}
