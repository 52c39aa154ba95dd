//! Each figure is rendered from realistic fake data into a temp dir, decoded with `image` and
//! checked for size and for content (colours where they must be). Set `PLOTS_PREVIEW_DIR` to
//! also keep copies for a person to look at:
//! `PLOTS_PREVIEW_DIR=/tmp/plots-preview cargo test -p host plots::`.

use std::path::{Path, PathBuf};

use image::RgbImage;

use super::*;

const CLASSES: [&str; 5] = ["cat", "cow", "elephant", "horse", "sheep"];

/// Deterministic noise in [-1, 1] (xorshift), so the fake data is the same every run.
struct Noise(u64);
impl Noise {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

fn render(name: &str, draw: impl FnOnce(&Path) -> Result<(), PlotError>) -> RgbImage {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    draw(&path).unwrap();
    // Only the PNG is left behind: the temporary file was renamed.
    let entries: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries, vec![path.clone()]);
    if let Some(preview) = std::env::var_os("PLOTS_PREVIEW_DIR") {
        std::fs::create_dir_all(&preview).unwrap();
        std::fs::copy(&path, Path::new(&preview).join(name)).unwrap();
    }
    image::open(&path).unwrap().to_rgb8()
}

fn count(img: &RgbImage, region: (u32, u32, u32, u32), pred: impl Fn([u8; 3]) -> bool) -> usize {
    let (x0, y0, x1, y1) = region;
    let mut n = 0;
    for y in y0..y1.min(img.height()) {
        for x in x0..x1.min(img.width()) {
            if pred(img.get_pixel(x, y).0) {
                n += 1;
            }
        }
    }
    n
}

fn close(p: [u8; 3], c: plotters::style::RGBColor, tol: i32) -> bool {
    (i32::from(p[0]) - i32::from(c.0)).abs() <= tol
        && (i32::from(p[1]) - i32::from(c.1)).abs() <= tol
        && (i32::from(p[2]) - i32::from(c.2)).abs() <= tol
}

fn dark(p: [u8; 3]) -> bool {
    p.iter().all(|&v| v < 90)
}

struct FakeHistory {
    train_loss: Vec<f64>,
    val_loss: Vec<f64>,
    train_acc: Vec<f64>,
    val_acc: Vec<f64>,
}

/// Loss decaying to `floor`, validation turning up after `turn` epochs (over-fitting).
fn fake_history(epochs: usize, floor: f64, final_acc: f64, turn: usize, seed: u64) -> FakeHistory {
    let mut noise = Noise(seed);
    let mut h = FakeHistory {
        train_loss: vec![],
        val_loss: vec![],
        train_acc: vec![],
        val_acc: vec![],
    };
    for e in 0..epochs {
        let t = e as f64;
        let base = floor + (1.61 - floor) * (-t / 6.0).exp();
        let over = if e > turn {
            0.012 * (e - turn) as f64
        } else {
            0.0
        };
        h.train_loss.push(base * 0.9 + 0.01 * noise.next());
        h.val_loss.push(base + over + 0.03 * noise.next());
        let acc = 0.2 + (final_acc - 0.2) * (1.0 - (-t / 5.0).exp());
        h.train_acc
            .push((acc + 0.04 + 0.01 * noise.next()).min(1.0));
        h.val_acc
            .push((acc - 0.005 * over * 10.0 + 0.02 * noise.next()).clamp(0.0, 1.0));
    }
    h
}

#[test]
fn learning_curves_two_models() {
    let cnn = fake_history(30, 0.42, 0.84, 18, 1);
    let mlp = fake_history(30, 0.95, 0.58, 22, 2);
    let models = [
        Curves {
            model: "CNN (Adam)",
            train_loss: &cnn.train_loss,
            val_loss: &cnn.val_loss,
            train_acc: &cnn.train_acc,
            val_acc: &cnn.val_acc,
            best_epoch: None,
        },
        Curves {
            model: "MLP (SGD)",
            train_loss: &mlp.train_loss,
            val_loss: &mlp.val_loss,
            train_acc: &mlp.train_acc,
            val_acc: &mlp.val_acc,
            best_epoch: Some(21),
        },
    ];
    let img = render("learning_curves.png", |p| learning_curves(p, &models));
    assert_eq!(img.dimensions(), (1280, 800));
    // Both line colours appear in every panel (train blue, validation orange).
    for (x0, y0) in [(0, 0), (640, 0), (0, 400), (640, 400)] {
        let region = (x0, y0, x0 + 640, y0 + 400);
        assert!(
            count(&img, region, |p| close(p, BLUE, 20)) > 300,
            "blue in panel {x0},{y0}"
        );
        assert!(
            count(&img, region, |p| close(p, ORANGE, 20)) > 300,
            "orange in panel {x0},{y0}"
        );
        assert!(
            count(&img, region, |p| close(p, RED, 20)) > 40,
            "best marker in {x0},{y0}"
        );
        assert!(
            count(&img, region, dark) > 500,
            "text and axes in {x0},{y0}"
        );
    }
}

#[test]
fn learning_curves_rejects_bad_input() {
    let ok = [0.5, 0.4];
    let short = [0.5];
    let mut c = Curves {
        model: "m",
        train_loss: &ok,
        val_loss: &short,
        train_acc: &ok,
        val_acc: &ok,
        best_epoch: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.png");
    assert!(matches!(
        learning_curves(&path, &[c]),
        Err(PlotError::InvalidInput { .. })
    ));
    c.val_loss = &ok;
    c.best_epoch = Some(2);
    assert!(matches!(
        learning_curves(&path, &[c]),
        Err(PlotError::InvalidInput { .. })
    ));
    c.best_epoch = None;
    let pct = [84.0, 85.0];
    c.val_acc = &pct;
    assert!(matches!(
        learning_curves(&path, &[c]),
        Err(PlotError::InvalidInput { .. })
    ));
    assert!(!path.exists());
}

#[test]
fn confusion_matrices_side_by_side() {
    #[rustfmt::skip]
    let cnn = [
        88, 3, 2, 4, 3,
        2, 81, 4, 6, 7,
        1, 5, 90, 3, 1,
        5, 6, 2, 83, 4,
        3, 9, 1, 4, 83,
    ];
    #[rustfmt::skip]
    let mlp = [
        61, 9, 7, 12, 11,
        8, 52, 10, 14, 16,
        6, 12, 68, 8, 6,
        13, 12, 6, 57, 12,
        9, 17, 5, 11, 58,
    ];
    let ms = [
        Confusion {
            title: "CNN (Adam)",
            counts: &cnn,
        },
        Confusion {
            title: "MLP (SGD)",
            counts: &mlp,
        },
    ];
    let img = render("confusion_matrices.png", |p| {
        confusion_matrices(p, &CLASSES, &ms)
    });
    // Per panel: 150 + 5 * 84 + 30 = 600 wide, 84 + 420 + 86 = 590 high.
    assert_eq!(img.dimensions(), (1200, 590));
    // Diagonal cells are dark, off-diagonal ones light: the map is not uniform.
    let cell = |panel: u32, t: u32, p: u32| {
        // A corner of the cell, away from the count text.
        let x = panel * 600 + 150 + p * 84 + 6;
        let y = 84 + t * 84 + 6;
        img.get_pixel(x, y).0
    };
    for panel in 0..2 {
        for t in 0..5 {
            let diag = cell(panel, t, t);
            let off = cell(panel, t, (t + 1) % 5);
            let lum = |c: [u8; 3]| c.iter().map(|&v| u32::from(v)).sum::<u32>();
            assert!(
                lum(diag) + 150 < lum(off),
                "panel {panel} row {t}: {diag:?} vs {off:?}"
            );
        }
    }
    // White count text on the dark diagonal (centre of cell 0,0 of the CNN panel).
    let text_white = count(&img, (150 + 20, 84 + 30, 150 + 64, 84 + 54), |p| {
        p.iter().all(|&v| v > 200)
    });
    assert!(text_white > 10);
    // Labels down the left side.
    assert!(count(&img, (0, 84, 148, 504), dark) > 300);

    let bad = [1usize; 24];
    let r = confusion_matrices(
        Path::new("/nonexistent/x.png"),
        &CLASSES,
        &[Confusion {
            title: "t",
            counts: &bad,
        }],
    );
    assert!(matches!(r, Err(PlotError::InvalidInput { .. })));
}

/// A 64x64 "photo": a class-tinted sky/ground gradient with a blob, so cells differ.
fn fake_image(class: usize, k: usize) -> Vec<u8> {
    let tints = [
        (200, 140, 90),
        (120, 90, 60),
        (150, 150, 160),
        (140, 80, 40),
        (230, 230, 220),
    ];
    let (r, g, b) = tints[class];
    let mut px = Vec::with_capacity(64 * 64 * 3);
    let (cx, cy) = (20.0 + (k * 7 % 24) as f64, 30.0 + (k * 5 % 12) as f64);
    for y in 0..64 {
        for x in 0..64 {
            let (fx, fy) = (x as f64, y as f64);
            let d = ((fx - cx).powi(2) + ((fy - cy) * 1.4).powi(2)).sqrt();
            let p: [i32; 3] = if d < 14.0 {
                [r, g, b]
            } else if y < 28 {
                [110 + y * 2, 160 + y, 230]
            } else {
                [70 + x / 4, 130 - y / 2, 60]
            };
            px.extend_from_slice(&p.map(|v| v.clamp(0, 255) as u8));
        }
    }
    px
}

#[test]
fn prediction_grid_colours_right_and_wrong() {
    let mut noise = Noise(7);
    let images: Vec<(Vec<u8>, usize, usize)> = (0..40)
        .map(|k| {
            let actual = k % 5;
            // About one in four wrong, including the first sample, never the second.
            let wrong = k == 0 || (k != 1 && noise.next() > 0.5);
            let predicted = if wrong {
                (actual + 1 + k % 3) % 5
            } else {
                actual
            };
            (fake_image(actual, k), actual, predicted)
        })
        .collect();
    let samples: Vec<GridSample> = images
        .iter()
        .map(|(px, a, p)| GridSample {
            pixels: px,
            width: 64,
            height: 64,
            actual: *a,
            predicted: *p,
        })
        .collect();
    let img = render("prediction_grid.png", |p| {
        prediction_grid(p, &CLASSES, &samples, 8)
    });
    // Cells: 152 + 16 = 168 wide, 128 + 6 + 46 + 16 = 196 high; a 56-pixel title band.
    assert_eq!(img.dimensions(), (8 * 168, 56 + 5 * 196));
    let label_area = |i: u32| {
        let (x, y) = ((i % 8) * 168, 56 + (i / 8) * 196 + 8 + 134);
        (x, y, x + 168, y + 46)
    };
    let red = |p: [u8; 3]| p[0] > 150 && p[1] < 80 && p[2] < 80;
    let green = |p: [u8; 3]| p[1] > 100 && p[0] < 80 && p[2] < 80;
    // Sample 0 is wrong: red text, no green. Sample 1 is right: green text, no red.
    assert!(count(&img, label_area(0), red) > 30);
    assert_eq!(count(&img, label_area(0), green), 0);
    assert!(count(&img, label_area(1), green) > 30);
    assert_eq!(count(&img, label_area(1), red), 0);
    // The image is 2x nearest-neighbour: pixel (0, 0) of sample 0 covers a 2x2 block.
    let (ix, iy) = ((168 - 134) / 2 + 3, 56 + 8 + 3);
    let src = &images[0].0[0..3];
    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
        assert_eq!(&img.get_pixel(ix + dx, iy + dy).0[..], src);
    }

    let short = vec![0u8; 10];
    let bad = [GridSample {
        pixels: &short,
        width: 64,
        height: 64,
        actual: 0,
        predicted: 0,
    }];
    let r = prediction_grid(Path::new("x.png"), &CLASSES, &bad, 8);
    assert!(matches!(r, Err(PlotError::InvalidInput { .. })));
    let bad = [GridSample {
        pixels: &images[0].0,
        width: 64,
        height: 64,
        actual: 5,
        predicted: 0,
    }];
    let r = prediction_grid(Path::new("x.png"), &CLASSES, &bad, 8);
    assert!(matches!(r, Err(PlotError::InvalidInput { .. })));
}

#[test]
fn comparison_bars_two_models() {
    let metrics = ["accuracy", "precision", "recall", "F1", "loss"];
    let series = [
        BarSeries {
            name: "CNN (Adam)",
            values: &[0.850, 0.853, 0.850, 0.849, 0.452],
        },
        BarSeries {
            name: "MLP (SGD)",
            values: &[0.592, 0.597, 0.592, 0.590, 1.047],
        },
    ];
    let img = render("comparison_bars.png", |p| {
        comparison_bars(p, "CNN vs MLP on the test set", &metrics, &series)
    });
    // 110 + 5 metrics * (2 models * 78 + 50) = 1140.
    assert_eq!(img.dimensions(), (1140, 580));
    assert!(count(&img, (0, 92, 1140, 580), |p| close(p, BLUE, 3)) > 5_000);
    assert!(count(&img, (0, 92, 1140, 580), |p| close(p, ORANGE, 3)) > 5_000);
    // Legend squares in the header band.
    assert!(count(&img, (0, 50, 1140, 85), |p| close(p, BLUE, 3)) > 100);

    let r = comparison_bars(
        Path::new("x.png"),
        "t",
        &metrics,
        &[BarSeries {
            name: "a",
            values: &[1.0],
        }],
    );
    assert!(matches!(r, Err(PlotError::InvalidInput { .. })));
}

#[test]
fn accuracy_vs_compression_sweep() {
    let float = 0.850;
    let mut points = Vec::new();
    for (bits, drop) in [(8u32, 0.0), (6, 0.01), (4, 0.04), (2, 0.25)] {
        for sparsity in [0.0, 0.5, 0.75, 0.9] {
            let ratio = 32.0 / f64::from(bits) / (1.0 - sparsity * 0.85);
            let acc = float - drop - 0.35 * sparsity.powi(4) - 0.002 * f64::from(bits % 3);
            points.push(CompressionPoint {
                bits,
                sparsity,
                ratio,
                accuracy: acc,
            });
        }
    }
    let img = render("accuracy_vs_compression.png", |p| {
        accuracy_vs_compression(p, "Accuracy vs compression (CNN, test set)", float, &points)
    });
    assert_eq!(img.dimensions(), (1000, 620));
    for c in [BLUE, ORANGE, GREEN, RED] {
        assert!(
            count(&img, (0, 0, 1000, 620), |p| close(p, c, 10)) > 150,
            "series colour {c:?}"
        );
    }
    let bad = [CompressionPoint {
        bits: 8,
        sparsity: 0.0,
        ratio: 0.0,
        accuracy: 0.8,
    }];
    let r = accuracy_vs_compression(Path::new("x.png"), "t", float, &bad);
    assert!(matches!(r, Err(PlotError::InvalidInput { .. })));
}

#[test]
fn ablation_bars_with_error_bars() {
    let runs = [
        SeedRuns {
            label: "CNN no-aug",
            values: &[0.781, 0.795, 0.770],
        },
        SeedRuns {
            label: "CNN aug",
            values: &[0.832, 0.845, 0.838],
        },
        SeedRuns {
            label: "CNN aug+finetune",
            values: &[0.851, 0.860, 0.846],
        },
        SeedRuns {
            label: "MLP",
            values: &[0.585, 0.601, 0.590],
        },
    ];
    let img = render("ablation_bars.png", |p| {
        ablation_bars(
            p,
            "Ablation: test accuracy over 3 seeds",
            "test accuracy",
            &runs,
        )
    });
    assert_eq!(img.dimensions(), (800, 580));
    let light_blue = tint(BLUE, 0.6);
    assert!(count(&img, (0, 0, 800, 580), |p| close(p, light_blue, 3)) > 5_000);
    assert!(
        count(&img, (0, 0, 800, 580), |p| close(
            p,
            tint(PALETTE[3], 0.6),
            3
        )) > 5_000
    );

    let (m, s) = mean_and_std(&[1.0, 2.0, 3.0]);
    assert!((m - 2.0).abs() < 1e-12 && (s - 1.0).abs() < 1e-12);
    assert_eq!(mean_and_std(&[0.5]), (0.5, 0.0));
    let r = ablation_bars(
        Path::new("x.png"),
        "t",
        "y",
        &[SeedRuns {
            label: "a",
            values: &[],
        }],
    );
    assert!(matches!(r, Err(PlotError::InvalidInput { .. })));
}

#[test]
fn write_fails_cleanly_without_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("x.png");
    let r = ablation_bars(
        &path,
        "t",
        "y",
        &[SeedRuns {
            label: "a",
            values: &[0.5],
        }],
    );
    assert!(
        matches!(r, Err(PlotError::Io { op: "create", .. })),
        "{r:?}"
    );
}

#[test]
fn degenerate_inputs_still_render() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let one = [0.7];
    let c = Curves {
        model: "one epoch",
        train_loss: &one,
        val_loss: &one,
        train_acc: &one,
        val_acc: &one,
        best_epoch: None,
    };
    learning_curves(&p("a.png"), &[c]).unwrap();
    let zeros = [0usize; 4];
    confusion_matrices(
        &p("b.png"),
        &["a", "b"],
        &[Confusion {
            title: "empty",
            counts: &zeros,
        }],
    )
    .unwrap();
    let px = [9u8; 3 * 3 * 2];
    let s = GridSample {
        pixels: &px,
        width: 3,
        height: 2,
        actual: 0,
        predicted: 1,
    };
    prediction_grid(&p("c.png"), &["a", "b"], &[s], 8).unwrap();
    comparison_bars(
        &p("d.png"),
        "zeros",
        &["m"],
        &[BarSeries {
            name: "s",
            values: &[0.0],
        }],
    )
    .unwrap();
    let pt = CompressionPoint {
        bits: 8,
        sparsity: 0.0,
        ratio: 4.0,
        accuracy: 0.0,
    };
    accuracy_vs_compression(&p("e.png"), "one point", 1.0, &[pt]).unwrap();
    ablation_bars(
        &p("f.png"),
        "t",
        "y",
        &[SeedRuns {
            label: "zero",
            values: &[0.0],
        }],
    )
    .unwrap();
    let ten: Vec<String> = (0..10).map(|i| format!("class{i}")).collect();
    let names: Vec<&str> = ten.iter().map(String::as_str).collect();
    let counts: Vec<usize> = (0..100)
        .map(|i| if i % 11 == 0 { 50 } else { i % 7 })
        .collect();
    confusion_matrices(
        &p("g.png"),
        &names,
        &[Confusion {
            title: "ten",
            counts: &counts,
        }],
    )
    .unwrap();
}
