//! Compression accounting: float32 parameter bytes against deployed bytes.

use std::fmt;

use serde::Serialize;

use super::np::NpLayer;
use super::player::PLayer;

/// Bytes of one requantisation pair as deployed: `m` u16 + `shift` u8.
pub const REQUANT_BYTES: usize = 3;

/// Which integer scheme a layer is deployed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum LayerScheme {
    /// Dense i8 weights (conv or dense).
    Np,
    /// Pruned power-of-two entries.
    P,
}

/// One layer's line of the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerCompression {
    /// Layer name (as in the model description).
    pub name: String,
    /// NP or P.
    pub scheme: LayerScheme,
    /// Weight count of the float layer (including pruned ones).
    pub weights: usize,
    /// Bias count.
    pub biases: usize,
    /// Non-zero weights after quantisation.
    pub nonzero: usize,
    /// Bits per stored weight: 8 for NP, the code width for P (per entry, skip included).
    pub bits: u8,
    /// `4 * (weights + biases)`.
    pub float_bytes: usize,
    /// Bytes of this layer's parameters as deployed (see the constructors for the breakdown).
    pub deployed_bytes: usize,
}

impl LayerCompression {
    /// An NP layer with `weights` i8 weights over `channels` output channels: deployed
    /// `weights * 1 + channels * 4` (i32 bias) `+ channels * 3` (u16 m + u8 shift) when it
    /// requantises (`false` for the final, logit layer).
    pub fn np(name: &str, weights: usize, channels: usize, nonzero: usize, requant: bool) -> Self {
        let rq = if requant { channels * REQUANT_BYTES } else { 0 };
        LayerCompression {
            name: name.to_string(),
            scheme: LayerScheme::Np,
            weights,
            biases: channels,
            nonzero,
            bits: 8,
            float_bytes: 4 * (weights + channels),
            deployed_bytes: weights + 4 * channels + rq,
        }
    }

    /// A P layer `[rows][cols]` stored as `entries` bytes: deployed `entries + rows * 2`
    /// (u16 row_len) `+ rows * 4` (i32 bias) `+ requant_sets * 3` (`rows` when the format
    /// stores a pair per row, 1 when per layer, 0 for the final layer).
    pub fn p(
        name: &str,
        rows: usize,
        cols: usize,
        entries: usize,
        nonzero: usize,
        bits: u8,
        requant_sets: usize,
    ) -> Self {
        LayerCompression {
            name: name.to_string(),
            scheme: LayerScheme::P,
            weights: rows * cols,
            biases: rows,
            nonzero,
            bits,
            float_bytes: 4 * (rows * cols + rows),
            deployed_bytes: entries + 2 * rows + 4 * rows + requant_sets * REQUANT_BYTES,
        }
    }

    /// From a quantised NP layer.
    pub fn from_np(name: &str, l: &NpLayer) -> Self {
        let nz = l.weights.iter().filter(|&&w| w != 0).count();
        LayerCompression::np(name, l.weights.len(), l.cout(), nz, l.requant.is_some())
    }

    /// From a quantised P layer (its requant pairs as stored, one per row).
    pub fn from_p(name: &str, l: &PLayer) -> Self {
        let w = &l.weights;
        let sets = l.requant.as_ref().map_or(0, Vec::len);
        LayerCompression::p(
            name,
            w.rows,
            w.cols,
            w.entries.len(),
            w.nonzero,
            w.bits,
            sets,
        )
    }

    /// Fraction of zero weights.
    pub fn sparsity(&self) -> f64 {
        if self.weights == 0 {
            0.0
        } else {
            1.0 - self.nonzero as f64 / self.weights as f64
        }
    }

    /// `float_bytes / deployed_bytes`.
    pub fn ratio(&self) -> f64 {
        self.float_bytes as f64 / self.deployed_bytes.max(1) as f64
    }
}

/// The whole model: float32 size of all parameters against the deployed size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CompressionReport {
    /// Per-layer lines, in model order.
    pub layers: Vec<LayerCompression>,
    /// Caller-supplied bytes outside the layers' parameters (header, layer table, padding).
    pub overhead_bytes: usize,
    /// The encoded blob's true length, when known; it then replaces the estimate.
    pub blob_bytes: Option<usize>,
}

impl CompressionReport {
    /// A report from layer lines and the non-parameter overhead.
    pub fn new(layers: Vec<LayerCompression>, overhead_bytes: usize) -> Self {
        CompressionReport {
            layers,
            overhead_bytes,
            blob_bytes: None,
        }
    }

    /// Records the true encoded blob length.
    pub fn with_blob_bytes(mut self, bytes: usize) -> Self {
        self.blob_bytes = Some(bytes);
        self
    }

    /// float32 bytes of all parameters.
    pub fn float_bytes(&self) -> usize {
        self.layers.iter().map(|l| l.float_bytes).sum()
    }

    /// Sum of the layers' deployed bytes plus the overhead.
    pub fn estimated_bytes(&self) -> usize {
        self.layers.iter().map(|l| l.deployed_bytes).sum::<usize>() + self.overhead_bytes
    }

    /// The blob length when known, else the estimate.
    pub fn deployed_bytes(&self) -> usize {
        self.blob_bytes.unwrap_or_else(|| self.estimated_bytes())
    }

    /// Compression ratio `float_bytes / deployed_bytes`.
    pub fn ratio(&self) -> f64 {
        self.float_bytes() as f64 / self.deployed_bytes().max(1) as f64
    }

    /// Sparsity over all weights of all layers.
    pub fn sparsity(&self) -> f64 {
        let w: usize = self.layers.iter().map(|l| l.weights).sum();
        let nz: usize = self.layers.iter().map(|l| l.nonzero).sum();
        if w == 0 {
            0.0
        } else {
            1.0 - nz as f64 / w as f64
        }
    }
}

impl fmt::Display for CompressionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<12} {:>6} {:>9} {:>9} {:>5} {:>10} {:>10} {:>7}",
            "layer", "scheme", "weights", "sparsity", "bits", "f32 B", "deployed B", "ratio"
        )?;
        for l in &self.layers {
            let scheme = match l.scheme {
                LayerScheme::Np => "NP",
                LayerScheme::P => "P",
            };
            writeln!(
                f,
                "{:<12} {:>6} {:>9} {:>8.2}% {:>5} {:>10} {:>10} {:>6.2}x",
                l.name,
                scheme,
                l.weights,
                100.0 * l.sparsity(),
                l.bits,
                l.float_bytes,
                l.deployed_bytes,
                l.ratio()
            )?;
        }
        writeln!(
            f,
            "overhead {} B; estimated {} B",
            self.overhead_bytes,
            self.estimated_bytes()
        )?;
        if let Some(b) = self.blob_bytes {
            writeln!(f, "blob {b} B")?;
        }
        write!(
            f,
            "total: {} B float32 -> {} B deployed, {:.2}x, sparsity {:.2}%",
            self.float_bytes(),
            self.deployed_bytes(),
            self.ratio(),
            100.0 * self.sparsity()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{np::quantize_np_layer, player::quantize_p_layer, InqParams};

    #[test]
    fn np_and_p_bytes_by_hand() {
        // conv 8x3x3x3 = 216 weights, 8 channels, requant:
        // f32 4*(216+8) = 896; deployed 216 + 8*4 + 8*3 = 272
        let c = LayerCompression::np("conv1", 216, 8, 216, true);
        assert_eq!((c.float_bytes, c.deployed_bytes), (896, 272));
        // final dense 10x64 without requant: 640 + 40 = 680
        let d = LayerCompression::np("fc2", 640, 10, 600, false);
        assert_eq!(d.deployed_bytes, 680);
        assert!((d.sparsity() - 40.0 / 640.0).abs() < 1e-12);
        // P 64x400, 1000 entries, 900 non-zero, 5 bits, one requant pair (a hypothetical
        // per-layer format): f32 4*(25600+64) = 102656; deployed 1000 + 128 + 256 + 3 = 1387
        let p = LayerCompression::p("fc1", 64, 400, 1000, 900, 5, 1);
        assert_eq!((p.float_bytes, p.deployed_bytes), (102656, 1387));
        let r = CompressionReport::new(vec![c, p, d], 100);
        // 896 + 102656 + 2600 (4*(640+10)) = 106152 ; 272 + 1387 + 680 + 100 = 2439
        assert_eq!(r.float_bytes(), 106152);
        assert_eq!(r.deployed_bytes(), 2439);
        assert!((r.ratio() - 106152.0 / 2439.0).abs() < 1e-12);
        let r = r.with_blob_bytes(2500);
        assert_eq!(r.deployed_bytes(), 2500);
        assert_eq!(r.estimated_bytes(), 2439);
        let text = r.to_string();
        assert!(
            text.contains("fc1") && text.contains("blob 2500 B"),
            "{text}"
        );
        // (216 + 640 + 25600) weights, (216 + 900 + 600) non-zero
        assert!((r.sparsity() - (1.0 - 1716.0 / 26456.0)).abs() < 1e-12);
    }

    #[test]
    fn from_quantised_layers() {
        let np = quantize_np_layer(&[1.0, 0.0, -1.0, 0.5], &[0.0, 0.0], 2, 0.1, Some(0.1)).unwrap();
        let l = LayerCompression::from_np("a", &np);
        // 4 + 2*4 + 2*3 = 18 ; 3 non-zero
        assert_eq!((l.deployed_bytes, l.nonzero), (18, 3));
        let p = InqParams::new(3, 0).unwrap();
        let pl = quantize_p_layer(
            &[0.0, 1.0, 0.0, 0.0, 0.0, -0.5],
            &[0.0, 0.0],
            2,
            3,
            &p,
            0.1,
            Some(0.1),
        )
        .unwrap();
        // entries 2, row_len 2*2, bias 2*4, requant per row 2*3 -> 20
        assert_eq!(LayerCompression::from_p("b", &pl).deployed_bytes, 20);
        assert_eq!(LayerCompression::from_p("b", &pl).nonzero, 2);
        // final P layer: no requant -> 14
        let fin = quantize_p_layer(
            &[0.0, 1.0, 0.0, 0.0, 0.0, -0.5],
            &[0.0, 0.0],
            2,
            3,
            &p,
            0.1,
            None,
        )
        .unwrap();
        assert_eq!(LayerCompression::from_p("c", &fin).deployed_bytes, 14);
    }
}
