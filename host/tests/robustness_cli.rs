//! Bad input to the `cnnfpga` binary (issue 14, host CLI): outputs never destroy inputs or
//! foreign files, hostile `model.json`/weights give typed errors, truncated or corrupt images are
//! skipped and named, `fpga --image` is decoded and shape-checked, options are checked up front,
//! `predict` takes quantised directories. Each case failed (or crashed, or silently did the wrong
//! thing) before; docs/robustness.md lists them with the old behaviour.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use host::data::load_folder;
use host::layers::LayerSpec;
use host::model::{Arch, ModelMeta, Net, Normalization, SavedModel};
use host::qmodel::IntModel;
use host::rng::Rng;
use host::train::{train, CheckpointOptions, NoProgress, TrainConfig, TrainError};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cnnfpga"))
}
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
fn sample() -> PathBuf {
    root().join("data/sample")
}
fn shipped_int() -> PathBuf {
    root().join("models/animals5-cnn-int")
}

fn run(args: &[&str], paths: &[(&str, &Path)]) -> Output {
    let mut c = bin();
    c.args(args);
    for (flag, p) in paths {
        c.arg(flag).arg(p);
    }
    c.output().unwrap()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
#[track_caller]
fn ok(o: &Output) {
    assert!(o.status.success(), "expected success: {}", stderr(o));
}
/// A clean refusal: exit code 1 (anyhow at the CLI edge) or 2 (clap's usage error), not a
/// panic (101) or an abort, and the message contains `needle`.
#[track_caller]
fn refused(o: &Output, needle: &str) {
    let e = stderr(o);
    assert!(
        matches!(o.status.code(), Some(1 | 2)),
        "expected a clean error, got {:?}: {e}",
        o.status.code()
    );
    assert!(!e.contains("panicked"), "{e}");
    assert!(e.contains(needle), "error does not mention {needle:?}: {e}");
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            fs::copy(e.path(), t).unwrap();
        }
    }
}
/// Every file under `dir` with its bytes, sorted.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(snapshot(&p));
        } else {
            let b = fs::read(&p).unwrap();
            v.push((p, b));
        }
    }
    v.sort();
    v
}

/// A small float model trained on the sample data (mlp, 8 hidden units, 1 epoch).
fn train_small(data: &Path, out: &Path) -> Output {
    run(
        &[
            "train", "--arch", "mlp", "--hidden", "8", "--epochs", "1", "-q",
        ],
        &[("--data", data), ("--out", out)],
    )
}

// ---------------------------------------------------------------- outputs vs inputs

#[test]
fn train_never_writes_over_or_around_its_data() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    copy_dir(&sample(), &data);
    let before = snapshot(&data);
    for (out, relation) in [
        (data.clone(), "is the --data input"),
        (data.join("cat").join(".."), "is the --data input"),
        (tmp.path().to_path_buf(), "contains the --data input"),
        (data.join("model"), "is inside the --data input"),
    ] {
        for force in [false, true] {
            let mut args = vec!["train", "--arch", "mlp", "--epochs", "1", "-q"];
            if force {
                args.push("--force");
            }
            let o = run(&args, &[("--data", &data), ("--out", &out)]);
            refused(&o, relation);
            refused(&o, &out.display().to_string());
        }
    }
    assert_eq!(snapshot(&data), before, "the training images changed");
}

#[test]
fn quantize_never_replaces_its_model() {
    let tmp = tempfile::tempdir().unwrap();
    let fm = tmp.path().join("fm");
    copy_dir(&root().join("models/animals5-cnn"), &fm);
    let before = snapshot(&fm);
    let o = run(
        &[
            "quantize",
            "--steps",
            "0",
            "--finetune-epochs",
            "1",
            "-q",
            "--force",
        ],
        &[("--model", &fm), ("--data", &sample()), ("--out", &fm)],
    );
    refused(&o, "is the --model input");
    assert_eq!(snapshot(&fm), before);
    // Nor a directory holding it.
    let o = run(
        &["quantize", "-q"],
        &[
            ("--model", &fm),
            ("--data", &sample()),
            ("--out", tmp.path()),
        ],
    );
    refused(&o, "contains the --model input");
}

#[test]
fn foreign_directories_and_files_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let foreign = tmp.path().join("mine");
    fs::create_dir(&foreign).unwrap();
    fs::write(foreign.join("notes.txt"), b"my notes").unwrap();
    let file = tmp.path().join("file.txt");
    fs::write(&file, b"a file").unwrap();

    // Every command that writes an --out checks it before any work.
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, PathBuf)>);
    let mut cases: Vec<Case> = vec![
        (
            vec!["train", "--arch", "mlp", "-q"],
            vec![("--data", sample())],
        ),
        (
            vec!["quantize", "-q"],
            vec![
                ("--model", root().join("models/animals5-cnn")),
                ("--data", sample()),
            ],
        ),
        (vec!["export"], vec![("--model", shipped_int())]),
        (vec!["report", "--quick", "-q"], vec![("--data", sample())]),
        (vec!["demo", "--no-fpga", "--no-report"], vec![]),
    ];
    // `cnnfpga fpga` is built with the host's `hw` feature
    if cfg!(feature = "hw") {
        cases.push((
            vec!["fpga", "build", "--quiet"],
            vec![("--model", shipped_int())],
        ));
    }
    for (args, inputs) in &cases {
        let cmd = args[..if args[0] == "fpga" { 2 } else { 1 }].join(" ");
        for (out, needle) in [
            (&foreign, format!("not a previous `cnnfpga {cmd}` output")),
            (&file, "is an existing file".to_string()),
        ] {
            let mut c = bin();
            c.args(args);
            for (f, p) in inputs {
                c.arg(f).arg(p);
            }
            let o = c.arg("--out").arg(out).output().unwrap();
            refused(&o, &needle);
            refused(&o, &out.display().to_string());
        }
        // A file stays refused with --force.
        let mut c = bin();
        c.args(args).arg("--force");
        for (f, p) in inputs {
            c.arg(f).arg(p);
        }
        refused(
            &c.arg("--out").arg(&file).output().unwrap(),
            "is an existing file",
        );
    }
    assert_eq!(fs::read(foreign.join("notes.txt")).unwrap(), b"my notes");
    assert_eq!(fs::read(&file).unwrap(), b"a file");

    // --force replaces the foreign directory (export is quick).
    let o = run(
        &["export", "--vectors", "0", "--force"],
        &[("--model", &shipped_int()), ("--out", &foreign)],
    );
    ok(&o);
    assert!(!foreign.join("notes.txt").exists());
    assert!(foreign.join("summary.json").is_file());
}

#[test]
fn previous_outputs_are_replaced_other_commands_outputs_are_not() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m");
    ok(&train_small(&sample(), &m));
    ok(&train_small(&sample(), &m)); // its own previous output: replaced
    let e = tmp.path().join("e");
    for _ in 0..2 {
        ok(&run(
            &["export", "--vectors", "1"],
            &[
                ("--model", &shipped_int()),
                ("--out", &e),
                ("--data", &sample()),
            ],
        ));
    }
    // A train output is not an export output, and the other way round.
    let o = run(
        &["export", "--vectors", "0"],
        &[("--model", &shipped_int()), ("--out", &m)],
    );
    refused(&o, "not a previous `cnnfpga export` output");
    refused(
        &train_small(&sample(), &e),
        "not a previous `cnnfpga train` output",
    );
    assert!(SavedModel::load(&m).is_ok());
    // Export into the model directory it reads (how models/*/golden is made) stays allowed;
    // the model directory itself is not.
    let q = tmp.path().join("q");
    copy_dir(&shipped_int(), &q);
    ok(&run(
        &["export", "--vectors", "0"],
        &[("--model", &q), ("--out", &q.join("golden"))],
    ));
    refused(
        &run(&["export", "--force"], &[("--model", &q), ("--out", &q)]),
        "is the --model input",
    );
    assert!(IntModel::load(&q).is_ok());
}

#[test]
fn a_failed_run_leaves_the_old_output() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m");
    ok(&train_small(&sample(), &m));
    let before = snapshot(&m);
    // Bad data: a class whose only image is not an image.
    let bad = tmp.path().join("bad");
    for c in ["a", "b"] {
        fs::create_dir_all(bad.join(c)).unwrap();
        fs::write(bad.join(c).join("x.jpg"), b"not a jpeg").unwrap();
    }
    let o = train_small(&bad, &m);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(snapshot(&m), before);
    let leftovers: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

// ---------------------------------------------------------------- model.json and weights

fn meta_for(arch: Arch) -> ModelMeta {
    ModelMeta {
        format: String::new(),
        format_version: 0,
        arch,
        classes: ["cat", "cow", "elephant", "horse", "sheep"]
            .map(String::from)
            .to_vec(),
        normalization: Normalization::default(),
        num_params: 0,
        weights_file: String::new(),
        weights_sha256: String::new(),
        train_config: serde_json::Value::Null,
        history: vec![],
        best_epoch: None,
        final_metrics: serde_json::Value::Null,
    }
}

#[test]
fn model_json_with_another_input_shape_is_an_error_not_a_panic() {
    // Consistent in itself (the dense layer takes the 32x32x3 flatten), but the data pipeline
    // feeds 64x64x3: before, eval/predict/quantize panicked in dense_forward (rc 101).
    let tmp = tempfile::tempdir().unwrap();
    let arch = Arch {
        name: "mlp32".into(),
        input: [32, 32, 3],
        layers: vec![
            LayerSpec::Flatten,
            LayerSpec::Dense {
                inputs: 32 * 32 * 3,
                outputs: 8,
            },
            LayerSpec::Relu,
            LayerSpec::Dense {
                inputs: 8,
                outputs: 5,
            },
        ],
    };
    let dir = tmp.path().join("m32");
    let net = Net::init(arch.clone(), &mut Rng::new(1)).unwrap();
    SavedModel::save(&net, meta_for(arch), &dir).unwrap();
    let img = sample().join("cat/0000.jpg");
    let q = tmp.path().join("q");
    for o in [
        run(&["eval"], &[("--model", &dir), ("--data", &sample())]),
        bin()
            .args(["predict", "--model"])
            .arg(&dir)
            .arg(&img)
            .output()
            .unwrap(),
        run(
            &["quantize", "-q"],
            &[("--model", &dir), ("--data", &sample()), ("--out", &q)],
        ),
    ] {
        refused(&o, "field `arch.input` is [32, 32, 3]");
    }
}

#[test]
fn weights_that_do_not_fit_the_arch_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let arch = Arch::mlp(5, 8);
    let net = Net::init(arch.clone(), &mut Rng::new(2)).unwrap();
    let good = tmp.path().join("good");
    SavedModel::save(&net, meta_for(arch), &good).unwrap();

    // Rewrites the weights file and its hash in model.json.
    let variant = |name: &str, weights: Vec<u8>| -> PathBuf {
        let d = tmp.path().join(name);
        copy_dir(&good, &d);
        let mut meta: serde_json::Value =
            serde_json::from_slice(&fs::read(d.join("model.json")).unwrap()).unwrap();
        meta["weights_sha256"] = host::model::sha256_hex(&weights).into();
        fs::write(d.join("model.json"), serde_json::to_vec(&meta).unwrap()).unwrap();
        fs::write(d.join("weights.safetensors"), weights).unwrap();
        d
    };
    let p = &net.params;
    let missing = variant(
        "missing",
        host::model::tensors_to_bytes(p[1..].iter().map(|p| (p.name.clone(), &p.value))).unwrap(),
    );
    let wrong_shape = variant(
        "shape",
        host::model::tensors_to_bytes(p.iter().map(|q| {
            let v = if q.name == "layers.3.weight" {
                &p[0].value
            } else {
                &q.value
            };
            (q.name.clone(), v)
        }))
        .unwrap(),
    );
    let f64_bytes = vec![0u8; 8 * 8 * 8];
    let wrong_dtype = variant("dtype", {
        let views = vec![(
            "layers.1.weight".to_string(),
            safetensors::tensor::TensorView::new(safetensors::Dtype::F64, vec![8, 8], &f64_bytes)
                .unwrap(),
        )];
        safetensors::serialize(views, &None).unwrap()
    });
    let garbage = variant(
        "garbage",
        b"\xff\xff\xff\xff\xff\xff\xff\x7fnot safetensors".to_vec(),
    );
    for (dir, needle) in [
        (
            &missing,
            "tensor layers.1.weight: expected shape [8, 12288], got missing",
        ),
        (&wrong_shape, "tensor layers.3.weight"),
        (&wrong_dtype, "dtype F64"),
        (&garbage, "safetensors"),
    ] {
        refused(
            &run(&["eval"], &[("--model", dir), ("--data", &sample())]),
            needle,
        );
    }
    // model.json fields.
    let edit = |name: &str, f: &dyn Fn(&mut serde_json::Value)| -> PathBuf {
        let d = tmp.path().join(name);
        copy_dir(&good, &d);
        let mut meta: serde_json::Value =
            serde_json::from_slice(&fs::read(d.join("model.json")).unwrap()).unwrap();
        f(&mut meta);
        fs::write(d.join("model.json"), serde_json::to_vec(&meta).unwrap()).unwrap();
        d
    };
    let escape = edit("escape", &|m| {
        m["weights_file"] = "../good/weights.safetensors".into()
    });
    let norm = edit("norm", &|m| m["normalization"]["scale"] = 1.0.into());
    let huge = edit("huge", &|m| {
        m["arch"]["input"] = serde_json::json!([usize::MAX, usize::MAX, 3])
    });
    for (dir, needle) in [
        (&escape, "field `weights_file`"),
        (&norm, "field `normalization`"),
        (&huge, "field `arch.input`"),
    ] {
        refused(
            &run(&["eval"], &[("--model", dir), ("--data", &sample())]),
            needle,
        );
    }
}

// ---------------------------------------------------------------- images

fn truncated_copy(dir: &Path) -> PathBuf {
    let src = fs::read(sample().join("cat/0000.jpg")).unwrap();
    // Cut mid-scan: the scan starts after the headers (~600 bytes of 1773).
    let p = dir.join("cut.jpg");
    fs::write(&p, &src[..src.len() * 2 / 3]).unwrap();
    p
}

#[test]
fn truncated_jpeg_and_corrupt_png_are_skipped_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    copy_dir(&sample(), &data);
    let n = load_folder(&data).unwrap().0.len();
    let cut = truncated_copy(&data.join("cat"));
    // A PNG with a damaged image-data chunk.
    let png = data.join("cow").join("bad.png");
    image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8, y as u8, 7]))
        .save(&png)
        .unwrap();
    let mut b = fs::read(&png).unwrap();
    let at = b.windows(4).position(|w| w == b"IDAT").unwrap() + 8;
    b[at..at + 16].fill(0x55);
    fs::write(&png, &b).unwrap();

    let (ds, report) = load_folder(&data).unwrap();
    assert_eq!(ds.len(), n, "the damaged files must not be loaded");
    assert_eq!(report.skipped, 2);
    let named: Vec<_> = report.examples.iter().map(|(p, _)| p.clone()).collect();
    assert!(named.contains(&cut) && named.contains(&png), "{named:?}");
    let why = &report.examples.iter().find(|(p, _)| *p == cut).unwrap().1;
    assert!(why.contains("truncated JPEG"), "{why}");

    // The CLI warns with the name; predict refuses the file.
    let o = bin()
        .args(["eval", "--model"])
        .arg(root().join("models/animals5-cnn"))
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    ok(&o);
    assert!(stderr(&o).contains("cut.jpg"), "{}", stderr(&o));
    let o = bin()
        .args(["predict", "--model"])
        .arg(root().join("models/animals5-cnn"))
        .arg(&cut)
        .output()
        .unwrap();
    refused(&o, "truncated JPEG");
}

#[test]
fn complete_jpegs_pass_the_structure_check() {
    for class in host::data::class_names(&sample()).unwrap() {
        for e in fs::read_dir(sample().join(class)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "jpg") {
                let b = fs::read(&p).unwrap();
                assert_eq!(host::data::jpeg_complete(&b), Ok(()), "{}", p.display());
                for cut in [2, 3, 4, 100, b.len() / 2, b.len() - 2, b.len() - 1] {
                    assert!(
                        host::data::jpeg_complete(&b[..cut]).is_err(),
                        "{} cut at {cut}",
                        p.display()
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------- fpga --image

#[cfg(feature = "hw")]
#[test]
fn flash_image_is_decoded_and_shape_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let flash = |image: &Path| {
        bin()
            .args(["fpga", "flash", "--dry-run", "--model-only", "--model"])
            .arg(shipped_int())
            .arg("--image")
            .arg(image)
            .output()
            .unwrap()
    };
    // A JPEG is decoded and resized to the model's 64x64x3 input (before: flashed as its 1773
    // raw bytes).
    let o = flash(&sample().join("cat/0000.jpg"));
    ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!("input image: {} bytes", 64 * 64 * 3)),
        "{text}"
    );
    // Raw .bin: exactly h*w*c bytes.
    let raw = tmp.path().join("x.bin");
    fs::write(&raw, vec![0u8; 64 * 64 * 3]).unwrap();
    ok(&flash(&raw));
    fs::write(&raw, vec![0u8; 1000]).unwrap();
    refused(
        &flash(&raw),
        "raw input is 1000 bytes; the model takes 64x64x3 = 12288 bytes",
    );
    // Anything else: a decode error.
    let txt = tmp.path().join("notes.txt");
    fs::write(&txt, b"hello").unwrap();
    refused(&flash(&txt), "input image");
    refused(&flash(&truncated_copy(tmp.path())), "truncated JPEG");
}

// ---------------------------------------------------------------- options

#[test]
fn options_are_checked_up_front() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let fm = root().join("models/animals5-cnn");
    refused(
        &run(
            &["--threads", "100000", "eval"],
            &[("--model", &fm), ("--data", &sample())],
        ),
        "1..=256",
    );
    refused(
        &run(
            &["--threads", "0", "eval"],
            &[("--model", &fm), ("--data", &sample())],
        ),
        "1..=256",
    );
    refused(
        &run(
            &["train", "--epochs", "0"],
            &[("--data", &sample()), ("--out", &out)],
        ),
        "--epochs must be > 0",
    );
    for lr in ["0", "-1", "NaN", "inf"] {
        refused(
            &run(
                &["train", &format!("--lr={lr}")],
                &[("--data", &sample()), ("--out", &out)],
            ),
            "lr",
        );
    }
    for s in ["1", "-0.1", "NaN"] {
        refused(
            &run(
                &["quantize", "--sparsity", s],
                &[("--model", &fm), ("--data", &sample()), ("--out", &out)],
            ),
            "--sparsity",
        );
    }
    // the quantiser's fine-tuning settings (#17)
    for (args, needle) in [
        (
            &["quantize", "--distill-weight", "2"][..],
            "--distill-weight 2",
        ),
        (
            &["quantize", "--distill-temperature", "NaN"],
            "--distill-temperature NaN",
        ),
        (&["quantize", "--keep-last"], "--patience must be 0, not 2"),
        (&["quantize", "--augment-final"], "--augment"),
    ] {
        refused(
            &run(
                args,
                &[("--model", &fm), ("--data", &sample()), ("--out", &out)],
            ),
            needle,
        );
    }
    refused(
        &run(
            &["train", "--batch", "0"],
            &[("--data", &sample()), ("--out", &out)],
        ),
        "--batch must be > 0",
    );
    // the schedule, smoothing, averaging and distillation settings (#17)
    for (args, needle) in [
        (
            &["train", "--schedule", "cosine"][..],
            "--fixed-epochs or --full",
        ),
        (
            &[
                "train",
                "--schedule",
                "cosine",
                "--fixed-epochs",
                "--min-lr-factor",
                "1.5",
            ],
            "--min-lr-factor 1.5",
        ),
        (
            &[
                "train",
                "--schedule",
                "cosine",
                "--full",
                "--epochs",
                "3",
                "--warmup-epochs",
                "3",
            ],
            "--warmup-epochs 3 must be fewer than --epochs 3",
        ),
        (&["train", "--label-smoothing", "1"], "--label-smoothing 1"),
        (
            &["train", "--label-smoothing", "NaN"],
            "--label-smoothing NaN",
        ),
        (&["train", "--ema", "1"], "--ema 1"),
        (&["train", "--ema", "0"], "--ema 0"),
    ] {
        refused(
            &run(args, &[("--data", &sample()), ("--out", &out)]),
            needle,
        );
    }
    // a teacher that is not a model, a teacher weight out of range, a teacher of other classes
    refused(
        &run(
            &["train"],
            &[
                ("--data", &sample()),
                ("--out", &out),
                ("--teacher", &sample()),
            ],
        ),
        "--teacher",
    );
    refused(
        &run(
            &["train", "--distill-weight", "0"],
            &[("--data", &sample()), ("--out", &out), ("--teacher", &fm)],
        ),
        "--distill-weight 0",
    );
    let three = tmp.path().join("three");
    for class in ["cat", "cow", "horse"] {
        copy_dir(&sample().join(class), &three.join(class));
    }
    refused(
        &run(
            &["train"],
            &[("--data", &three), ("--out", &out), ("--teacher", &fm)],
        ),
        "differ from the data's",
    );
    assert!(!out.exists());
}

#[test]
fn long_class_names_are_refused_before_fine_tuning() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    copy_dir(&sample(), &data);
    let long = "c".repeat(33); // sorts first, as "cat" did
    fs::rename(data.join("cat"), data.join(&long)).unwrap();
    let m = tmp.path().join("m");
    let o = train_small(&data, &m);
    ok(&o);
    assert!(
        stderr(&o).contains("33 bytes"),
        "train warns: {}",
        stderr(&o)
    );
    let t = std::time::Instant::now();
    let o = run(
        &["quantize", "-q", "--finetune-epochs", "5"],
        &[
            ("--model", &m),
            ("--data", &data),
            ("--out", &tmp.path().join("q")),
        ],
    );
    refused(&o, &format!("class name `{long}` is 33 bytes"));
    // No data was even loaded: the check comes first (a loose bound for a shared machine).
    assert!(t.elapsed().as_secs() < 20, "{:?}", t.elapsed());
}

#[test]
fn resume_refuses_changed_augmentation() {
    let (ds, _) = load_folder(&sample()).unwrap();
    let (tr, va) = ds.split_stratified(0.2, 1).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let ck = CheckpointOptions {
        dir: Some(tmp.path().join("ckpt")),
        resume: true,
        ..Default::default()
    };
    let arch = Arch::mlp(5, 4);
    let cfg = TrainConfig {
        epochs: 1,
        batch_size: 64,
        ..TrainConfig::default()
    };
    let mut net = Net::init(arch.clone(), &mut Rng::new(1)).unwrap();
    train(&mut net, &tr, &va, &cfg, None, &ck, &mut NoProgress).unwrap();
    assert!(tmp.path().join("ckpt/state.json").is_file());
    let changed = TrainConfig {
        epochs: 2,
        augment: Some(Default::default()),
        ..cfg.clone()
    };
    let mut net = Net::init(arch.clone(), &mut Rng::new(1)).unwrap();
    let e = train(&mut net, &tr, &va, &changed, None, &ck, &mut NoProgress).unwrap_err();
    assert!(matches!(e, TrainError::Checkpoint { .. }), "{e}");
    assert!(e.to_string().contains("augmentation"), "{e}");
    assert!(e.to_string().contains("checkpoint off, this run on"), "{e}");
    // So is a changed setting outside TrainConfig (the CLI records --data, --val-split, ...).
    let other = CheckpointOptions {
        run_settings: [("--val-split".to_string(), "0.3".to_string())].into(),
        ..ck.clone()
    };
    let mut net = Net::init(arch.clone(), &mut Rng::new(1)).unwrap();
    let e = train(&mut net, &tr, &va, &cfg, None, &other, &mut NoProgress).unwrap_err();
    assert!(
        e.to_string().contains(
            "--val-split differs from the checkpoint's (checkpoint (none), this run 0.3)"
        ),
        "{e}"
    );
    // More epochs with the same settings resume.
    let more = TrainConfig { epochs: 2, ..cfg };
    let mut net = Net::init(arch, &mut Rng::new(1)).unwrap();
    let r = train(&mut net, &tr, &va, &more, None, &ck, &mut NoProgress).unwrap();
    assert_eq!(r.history.len(), 2);
}

// ---------------------------------------------------------------- predict

#[test]
fn predict_takes_quantised_directories() {
    let imgs: Vec<PathBuf> = ["cat/0000.jpg", "horse/0000.jpg", "sheep/0001.jpg"]
        .iter()
        .map(|p| sample().join(p))
        .collect();
    let o = bin()
        .args(["predict", "--model"])
        .arg(shipped_int())
        .args(&imgs)
        .output()
        .unwrap();
    ok(&o);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let m = IntModel::load(&shipped_int()).unwrap();
    let px: Vec<Vec<u8>> = imgs
        .iter()
        .map(|p| host::data::load_image(p).unwrap())
        .collect();
    let want = m.run_all(&px).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), imgs.len(), "{text}");
    for ((line, img), w) in lines.iter().zip(&imgs).zip(&want) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f[0], img.display().to_string());
        assert_eq!(f[1], m.classes()[w.class], "{line}");
        let p: f32 = f[2]
            .split(' ')
            .map(|kv| kv.split('=').nth(1).unwrap().parse::<f32>().unwrap())
            .sum();
        assert!((p - 1.0).abs() < 1e-3, "{line}");
    }
}

#[cfg(feature = "hw")]
#[test]
fn sim_trace_never_overwrites_an_input() {
    let tmp = tempfile::tempdir().unwrap();
    let q = tmp.path().join("q");
    copy_dir(&shipped_int(), &q);
    let img = tmp.path().join("cat.jpg");
    fs::copy(sample().join("cat/0000.jpg"), &img).unwrap();
    let before = (snapshot(&q), fs::read(&img).unwrap());
    for (trace, needle) in [
        (img.clone(), "is the --image input"),
        (q.join("model.blob"), "is inside the --model input"),
        (q.join("new.fst"), "is inside the --model input"),
    ] {
        let o = bin()
            .args(["sim", "--model"])
            .arg(&q)
            .arg("--image")
            .arg(&img)
            .arg("--trace")
            .arg(&trace)
            .output()
            .unwrap();
        refused(&o, needle);
    }
    assert_eq!((snapshot(&q), fs::read(&img).unwrap()), before);
}

#[test]
fn report_is_staged_and_records_its_real_out() {
    let tmp = tempfile::tempdir().unwrap();
    let rep = tmp.path().join("rep");
    let report = |extra: &[&str]| {
        bin()
            .args([
                "report", "--quick", "--quiet", "--seeds", "1", "--epochs", "1",
            ])
            .args(extra)
            .arg("--data")
            .arg(sample())
            .arg("--out")
            .arg(&rep)
            .output()
            .unwrap()
    };
    ok(&report(&[]));
    let metrics: serde_json::Value =
        serde_json::from_slice(&fs::read(rep.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["settings"]["out"], rep.display().to_string());
    let before = snapshot(&rep);
    // A failing run (a missing --test folder) leaves the previous report as it was.
    let o = report(&["--test", "/nonexistent/test-folder"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(snapshot(&rep), before);
    let names: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from("rep")]);
}
