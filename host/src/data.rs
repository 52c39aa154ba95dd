//! Image folders: one sub-folder per class, JPEG/PNG of any size, decoded in parallel, resized to
//! 64x64 RGB and kept as raw u8 HWC pixels (the integer side consumes the same bytes).

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use ndarray::Array4;
use rayon::prelude::*;

use crate::rng::Rng;

/// Image side the data pipeline resizes to (every image becomes `IMAGE_SIZE x IMAGE_SIZE` RGB).
pub const IMAGE_SIZE: usize = 64;

/// How many unreadable file names a [`LoadReport`] keeps.
pub const SKIPPED_EXAMPLES: usize = 5;

/// Errors of data loading and splitting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The data directory cannot be listed.
    #[error("cannot read data folder {path}: {source}")]
    Io {
        /// Folder.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// No class sub-folders.
    #[error("no class sub-folders in {0}")]
    NoClasses(PathBuf),
    /// A class has no readable image.
    #[error("class `{class}` in {path} has no readable image")]
    EmptyClass {
        /// Class name.
        class: String,
        /// Its folder.
        path: PathBuf,
    },
    /// The folder's classes differ from the model's.
    #[error("class names differ: model has {model:?}, data folder has {data:?}")]
    ClassMismatch {
        /// Model classes.
        model: Vec<String>,
        /// Folder classes.
        data: Vec<String>,
    },
    /// A split fraction out of range or a class too small to split.
    #[error("cannot split: {0}")]
    Split(String),
    /// A single image could not be read (used by [`load_image`]).
    #[error("{path}: {reason}")]
    Image {
        /// File.
        path: PathBuf,
        /// Cause.
        reason: String,
    },
}

/// A labelled set of 64x64 RGB images (u8, HWC).
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// Class names (index = label).
    pub classes: Vec<String>,
    /// Pixels, `IMAGE_SIZE * IMAGE_SIZE * 3` bytes each, HWC.
    pub images: Vec<Vec<u8>>,
    /// Label per image.
    pub labels: Vec<usize>,
    /// Source file per image.
    pub paths: Vec<PathBuf>,
}

/// What loading skipped.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// Number of unreadable or corrupt files skipped.
    pub skipped: usize,
    /// The first few of them with the reason.
    pub examples: Vec<(PathBuf, String)>,
}

fn is_image_name(p: &Path) -> bool {
    let ext = p
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png"))
}

/// Decodes one image file (format from content), converts to RGB and resizes to 64x64
/// (triangle filter; images already 64x64 are untouched). Returns HWC bytes.
pub fn load_image(path: &Path) -> Result<Vec<u8>, DataError> {
    let img = decode_rgb(path)?;
    let s = IMAGE_SIZE as u32;
    let img = if img.dimensions() == (s, s) {
        img
    } else {
        image::imageops::resize(&img, s, s, FilterType::Triangle)
    };
    Ok(img.into_raw())
}

/// Decodes one image file (format from content; a JPEG must be complete, see
/// [`jpeg_complete`]) to RGB at its own size.
pub fn decode_rgb(path: &Path) -> Result<image::RgbImage, DataError> {
    let err = |reason: String| DataError::Image {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    if bytes.starts_with(&[0xFF, 0xD8]) {
        // The JPEG decoder fills a scan cut short with grey and reports success.
        jpeg_complete(&bytes).map_err(err)?;
    }
    let img = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| err(e.to_string()))?
        .decode()
        .map_err(|e| err(e.to_string()))?
        .to_rgb8();
    Ok(img)
}

/// Checks that a JPEG's marker structure runs from SOI to EOI: segments are skipped by their
/// length, entropy-coded data after each SOS up to the next marker (stuffed `FF 00`, restart
/// markers `FF D0..D7` and fill bytes `FF FF` belong to the data). A file cut anywhere before
/// its EOI (in particular mid-scan) fails, whatever an embedded thumbnail's EOI says.
pub fn jpeg_complete(b: &[u8]) -> Result<(), String> {
    let truncated = |at: usize| {
        Err(format!(
            "truncated JPEG: no end-of-image marker ({at} of {} bytes parsed)",
            b.len()
        ))
    };
    if !b.starts_with(&[0xFF, 0xD8]) {
        return Err("not a JPEG (no start-of-image marker)".into());
    }
    let mut i = 2;
    loop {
        // at a marker: skip fill bytes
        if b.get(i) != Some(&0xFF) {
            return match b.get(i) {
                None => truncated(i),
                Some(x) => Err(format!(
                    "corrupt JPEG: byte {x:#04x} at {i} where a marker belongs"
                )),
            };
        }
        while b.get(i) == Some(&0xFF) {
            i += 1;
        }
        let Some(&m) = b.get(i) else {
            return truncated(i);
        };
        i += 1;
        match m {
            0xD9 => return Ok(()),
            0x01 | 0xD0..=0xD7 => continue, // no length
            _ => {}
        }
        let (Some(&hi), Some(&lo)) = (b.get(i), b.get(i + 1)) else {
            return truncated(i);
        };
        let len = usize::from(hi) << 8 | usize::from(lo);
        if len < 2 {
            return Err(format!("corrupt JPEG: segment length {len} at {i}"));
        }
        i += len;
        if i > b.len() {
            return truncated(b.len());
        }
        if m == 0xDA {
            // entropy-coded data up to the next real marker
            loop {
                match (b.get(i), b.get(i + 1)) {
                    (Some(0xFF), Some(0x00 | 0xD0..=0xD7)) => i += 2,
                    (Some(0xFF), Some(0xFF)) => i += 1, // fill byte before a marker
                    (Some(0xFF), Some(_)) => break,
                    (Some(_), _) => i += 1,
                    (None, _) => return truncated(i),
                }
            }
        }
    }
}

/// Sorted class folder names of `dir` (hidden entries ignored).
pub fn class_names(dir: &Path) -> Result<Vec<String>, DataError> {
    let io = |source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut classes = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && e.path().is_dir() {
            classes.push(name);
        }
    }
    classes.sort();
    if classes.is_empty() {
        return Err(DataError::NoClasses(dir.to_path_buf()));
    }
    Ok(classes)
}

/// Loads a class-per-folder image tree. Files with a .jpg/.jpeg/.png name that fail to decode
/// are skipped and reported; other files are ignored. Order: classes sorted, files sorted.
pub fn load_folder(dir: &Path) -> Result<(Dataset, LoadReport), DataError> {
    let classes = class_names(dir)?;
    let mut files = Vec::new();
    for (label, class) in classes.iter().enumerate() {
        let cdir = dir.join(class);
        let io = |source| DataError::Io {
            path: cdir.clone(),
            source,
        };
        let mut names: Vec<PathBuf> = std::fs::read_dir(&cdir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_image_name(p))
            .collect();
        names.sort();
        files.extend(names.into_iter().map(|p| (p, label)));
    }
    let decoded: Vec<Result<Vec<u8>, DataError>> =
        files.par_iter().map(|(p, _)| load_image(p)).collect();
    let mut ds = Dataset {
        classes: classes.clone(),
        ..Default::default()
    };
    let mut report = LoadReport::default();
    for ((path, label), r) in files.into_iter().zip(decoded) {
        match r {
            Ok(px) => {
                ds.images.push(px);
                ds.labels.push(label);
                ds.paths.push(path);
            }
            Err(e) => {
                report.skipped += 1;
                if report.examples.len() < SKIPPED_EXAMPLES {
                    report.examples.push((path, e.to_string()));
                }
            }
        }
    }
    for (label, class) in classes.iter().enumerate() {
        if !ds.labels.contains(&label) {
            return Err(DataError::EmptyClass {
                class: class.clone(),
                path: dir.join(class),
            });
        }
    }
    Ok((ds, report))
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// Images per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.classes.len()];
        self.labels.iter().for_each(|&l| c[l] += 1);
        c
    }

    /// Subset by indices (in the given order).
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        Dataset {
            classes: self.classes.clone(),
            images: idx.iter().map(|&i| self.images[i].clone()).collect(),
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            paths: idx.iter().map(|&i| self.paths[i].clone()).collect(),
        }
    }

    /// Deterministic stratified split: per class, a seeded shuffle, then `round(n * val_frac)`
    /// images (at least 1, leaving at least 1) go to validation. Returns `(train, val)`.
    pub fn split_stratified(
        &self,
        val_frac: f64,
        seed: u64,
    ) -> Result<(Dataset, Dataset), DataError> {
        if !(val_frac > 0.0 && val_frac < 1.0) {
            return Err(DataError::Split(format!(
                "validation fraction {val_frac} not in (0, 1)"
            )));
        }
        let (mut tr, mut va) = (Vec::new(), Vec::new());
        for (label, class) in self.classes.iter().enumerate() {
            let idx = self.shuffled_class(label, seed, 0x0005_3117);
            if idx.len() < 2 {
                return Err(DataError::Split(format!(
                    "class `{class}` has {} image(s), need >= 2",
                    idx.len()
                )));
            }
            let nv = ((idx.len() as f64 * val_frac).round() as usize).clamp(1, idx.len() - 1);
            va.extend_from_slice(&idx[..nv]);
            tr.extend_from_slice(&idx[nv..]);
        }
        tr.sort_unstable();
        va.sort_unstable();
        Ok((self.subset(&tr), self.subset(&va)))
    }

    /// Keeps `round(n * frac)` images of each class (at least 1), chosen by a per-class seeded
    /// shuffle: the learning-curve subset of a training part. For one seed the subsets are
    /// nested (a smaller `frac` keeps a prefix of what a larger one keeps), so accuracies at
    /// several fractions differ only by the images added; `frac` 1 keeps every image, in order.
    /// `frac` must be in (0, 1].
    pub fn stratified_fraction(&self, frac: f64, seed: u64) -> Result<Dataset, DataError> {
        if !(frac > 0.0 && frac <= 1.0) {
            return Err(DataError::Split(format!(
                "training fraction {frac} not in (0, 1]"
            )));
        }
        let mut keep = Vec::new();
        for label in 0..self.classes.len() {
            let idx = self.shuffled_class(label, seed, 0x000F_4AC7);
            let n = ((idx.len() as f64 * frac).round() as usize).clamp(1, idx.len().max(1));
            keep.extend(idx.into_iter().take(n));
        }
        keep.sort_unstable();
        Ok(self.subset(&keep))
    }

    /// The indices of class `label`'s images, shuffled by `Rng::derive(&[seed, salt, label])`
    /// (one salt per use, so a split and a fraction with the same seed draw independently).
    fn shuffled_class(&self, label: usize, seed: u64, salt: u64) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.len())
            .filter(|&i| self.labels[i] == label)
            .collect();
        Rng::derive(&[seed, salt, label as u64]).shuffle(&mut idx);
        idx
    }

    /// Errors unless the class names equal `model_classes` (same names, same order).
    pub fn check_classes(&self, model_classes: &[String]) -> Result<(), DataError> {
        if self.classes != model_classes {
            return Err(DataError::ClassMismatch {
                model: model_classes.to_vec(),
                data: self.classes.clone(),
            });
        }
        Ok(())
    }

    /// Float batch `[n, 64, 64, 3]` of the given images, `pixel / 255`.
    pub fn batch(&self, idx: &[usize]) -> Array4<f32> {
        pixels_to_batch(idx.iter().map(|&i| self.images[i].as_slice()))
    }
}

/// Stacks u8 HWC images into a float batch with the fixed normalisation `pixel / 255`.
pub fn pixels_to_batch<'a>(images: impl ExactSizeIterator<Item = &'a [u8]>) -> Array4<f32> {
    let s = IMAGE_SIZE;
    let n = images.len();
    let mut data = Vec::with_capacity(n * s * s * 3);
    for img in images {
        data.extend(img.iter().map(|&p| p as f32 * (1.0 / 255.0)));
    }
    Array4::from_shape_vec((n, s, s, 3), data).expect("pixels_to_batch: image size")
}
