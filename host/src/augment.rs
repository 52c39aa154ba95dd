//! On-the-fly data augmentation of 64x64 RGB images (u8 HWC in, normalised f32 HWC out).
//!
//! Per image, in order: random affine (horizontal flip, small rotation, zoom = random crop and
//! scale, small shift; bilinear, edges clamped), then with some probability a Gaussian blur or
//! a down-then-up rescale (applied to every class, so a model cannot use sharpness as a class
//! cue — the horse class of animals5 went through one extra downscale), then brightness and
//! contrast jitter. Each image draws from its own stream `Rng::derive([seed, epoch, slot])`,
//! so results do not depend on thread scheduling.

use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// Augmentation strengths.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AugmentConfig {
    /// Probability of a horizontal flip.
    pub flip_p: f32,
    /// Maximum rotation, degrees (uniform in `[-max, max]`).
    pub max_rotate_deg: f32,
    /// Zoom range (>1 zooms in, i.e. a random crop scaled up).
    pub scale: (f32, f32),
    /// Maximum shift in pixels per axis.
    pub max_shift: f32,
    /// Probability of a Gaussian blur.
    pub blur_p: f32,
    /// Blur sigma range, pixels.
    pub blur_sigma: (f32, f32),
    /// Probability of a down-then-up rescale (when not blurred).
    pub rescale_p: f32,
    /// Intermediate side range for the rescale.
    pub rescale_side: (usize, usize),
    /// Maximum brightness offset (in [0, 1] units).
    pub brightness: f32,
    /// Contrast factor range.
    pub contrast: (f32, f32),
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            flip_p: 0.5,
            max_rotate_deg: 12.0,
            scale: (0.9, 1.2),
            max_shift: 4.0,
            blur_p: 0.3,
            blur_sigma: (0.4, 1.3),
            rescale_p: 0.3,
            rescale_side: (24, 48),
            brightness: 0.1,
            contrast: (0.8, 1.2),
        }
    }
}

impl AugmentConfig {
    /// Flip plus blur / down-up rescale only (no rotation, zoom, shift, brightness or contrast):
    /// the blur/rescale keeps the horse photos' extra softness from being a class cue, the rest of
    /// the default set is left out so a small network is not held back by hard-to-fit inputs.
    pub fn light() -> Self {
        AugmentConfig {
            max_rotate_deg: 0.0,
            scale: (1.0, 1.0),
            max_shift: 0.0,
            brightness: 0.0,
            contrast: (1.0, 1.0),
            ..AugmentConfig::default()
        }
    }
}

fn sample_bilinear(src: &[f32], w: usize, h: usize, x: f32, y: f32, out: &mut [f32; 3]) {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    for (c, o) in out.iter_mut().enumerate() {
        let p = |xx: usize, yy: usize| src[(yy * w + xx) * 3 + c];
        let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
        let bot = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
        *o = top * (1.0 - fy) + bot * fy;
    }
}

/// Separable resize of an HWC RGB f32 image with a triangle filter whose support widens when
/// downscaling (antialiased, like PIL's bilinear).
pub fn resize(src: &[f32], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<f32> {
    fn weights(sn: usize, dn: usize) -> Vec<(usize, Vec<f32>)> {
        let scale = sn as f32 / dn as f32;
        let support = scale.max(1.0);
        (0..dn)
            .map(|i| {
                let center = (i as f32 + 0.5) * scale;
                let lo = ((center - support).floor().max(0.0)) as usize;
                let hi = ((center + support).ceil() as usize).min(sn);
                let mut w: Vec<f32> = (lo..hi)
                    .map(|j| (1.0 - ((j as f32 + 0.5 - center) / support).abs()).max(0.0))
                    .collect();
                let s: f32 = w.iter().sum();
                w.iter_mut().for_each(|v| *v /= s.max(1e-12));
                (lo, w)
            })
            .collect()
    }
    let wx = weights(sw, dw);
    let wy = weights(sh, dh);
    let mut tmp = vec![0f32; sh * dw * 3];
    for y in 0..sh {
        for (x, (lo, w)) in wx.iter().enumerate() {
            for c in 0..3 {
                tmp[(y * dw + x) * 3 + c] = w
                    .iter()
                    .enumerate()
                    .map(|(k, wk)| wk * src[(y * sw + lo + k) * 3 + c])
                    .sum();
            }
        }
    }
    let mut out = vec![0f32; dh * dw * 3];
    for (y, (lo, w)) in wy.iter().enumerate() {
        for x in 0..dw {
            for c in 0..3 {
                out[(y * dw + x) * 3 + c] = w
                    .iter()
                    .enumerate()
                    .map(|(k, wk)| wk * tmp[((lo + k) * dw + x) * 3 + c])
                    .sum();
            }
        }
    }
    out
}

/// Separable Gaussian blur (edges clamped) of an HWC RGB f32 image.
pub fn gaussian_blur(img: &mut [f32], w: usize, h: usize, sigma: f32) {
    let r = (2.0 * sigma).ceil() as isize;
    let mut k: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= s);
    let mut tmp = vec![0f32; img.len()];
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                tmp[(y * w + x) * 3 + c] = k
                    .iter()
                    .enumerate()
                    .map(|(i, kv)| {
                        let xx = (x as isize + i as isize - r).clamp(0, w as isize - 1) as usize;
                        kv * img[(y * w + xx) * 3 + c]
                    })
                    .sum();
            }
        }
    }
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                img[(y * w + x) * 3 + c] = k
                    .iter()
                    .enumerate()
                    .map(|(i, kv)| {
                        let yy = (y as isize + i as isize - r).clamp(0, h as isize - 1) as usize;
                        kv * tmp[(yy * w + x) * 3 + c]
                    })
                    .sum();
            }
        }
    }
}

/// Augments one `side x side` RGB u8 HWC image into normalised floats (`pixel / 255`, then the
/// jitter, clamped to [0, 1]).
pub fn augment_image(px: &[u8], side: usize, cfg: &AugmentConfig, rng: &mut Rng) -> Vec<f32> {
    let (w, h) = (side, side);
    let src: Vec<f32> = px.iter().map(|&p| p as f32 / 255.0).collect();
    // Affine: output pixel -> source pixel (inverse map around the centre).
    let flip = rng.chance(cfg.flip_p);
    let ang = rng
        .range(-cfg.max_rotate_deg, cfg.max_rotate_deg)
        .to_radians();
    let zoom = rng.range(cfg.scale.0, cfg.scale.1);
    let (tx, ty) = (
        rng.range(-cfg.max_shift, cfg.max_shift),
        rng.range(-cfg.max_shift, cfg.max_shift),
    );
    let (sa, ca) = ang.sin_cos();
    let c = (w as f32 - 1.0) / 2.0;
    let mut img = vec![0f32; w * h * 3];
    let mut v = [0f32; 3];
    for y in 0..h {
        for x in 0..w {
            let dx = x as f32 - c - tx;
            let dy = y as f32 - c - ty;
            let mut sx = (ca * dx + sa * dy) / zoom + c;
            let sy = (-sa * dx + ca * dy) / zoom + c;
            if flip {
                sx = w as f32 - 1.0 - sx;
            }
            sample_bilinear(&src, w, h, sx, sy, &mut v);
            img[(y * w + x) * 3..][..3].copy_from_slice(&v);
        }
    }
    // Softness: blur or down-then-up rescale.
    if rng.chance(cfg.blur_p) {
        let sigma = rng.range(cfg.blur_sigma.0, cfg.blur_sigma.1);
        gaussian_blur(&mut img, w, h, sigma);
    } else if rng.chance(cfg.rescale_p) {
        let (lo, hi) = cfg.rescale_side;
        let d = lo + rng.below(hi.saturating_sub(lo) + 1);
        let small = resize(&img, w, h, d, d);
        img = resize(&small, d, d, w, h);
    }
    // Photometric: contrast around the mean, brightness offset.
    let contrast = rng.range(cfg.contrast.0, cfg.contrast.1);
    let bright = rng.range(-cfg.brightness, cfg.brightness);
    let mean = img.iter().sum::<f32>() / img.len() as f32;
    for p in &mut img {
        *p = ((*p - mean) * contrast + mean + bright).clamp(0.0, 1.0);
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(side: usize, seed: u64) -> Vec<u8> {
        let mut r = Rng::new(seed);
        (0..side * side * 3)
            .map(|_| (r.next_u64() & 255) as u8)
            .collect()
    }

    #[test]
    fn deterministic_in_range_and_not_identity() {
        let px = noise(64, 1);
        let cfg = AugmentConfig::default();
        let a = augment_image(&px, 64, &cfg, &mut Rng::derive(&[1, 2, 3]));
        let b = augment_image(&px, 64, &cfg, &mut Rng::derive(&[1, 2, 3]));
        let c = augment_image(&px, 64, &cfg, &mut Rng::derive(&[1, 2, 4]));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 64 * 64 * 3);
        assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn no_op_config_is_identity() {
        let px = noise(16, 2);
        let cfg = AugmentConfig {
            flip_p: 0.0,
            max_rotate_deg: 0.0,
            scale: (1.0, 1.0),
            max_shift: 0.0,
            blur_p: 0.0,
            rescale_p: 0.0,
            brightness: 0.0,
            contrast: (1.0, 1.0),
            ..Default::default()
        };
        let a = augment_image(&px, 16, &cfg, &mut Rng::new(3));
        for (o, p) in a.iter().zip(&px) {
            assert!((o - *p as f32 / 255.0).abs() < 1e-5);
        }
        // Flip only: mirrored rows.
        let flip = AugmentConfig { flip_p: 1.0, ..cfg };
        let f = augment_image(&px, 16, &flip, &mut Rng::new(3));
        for y in 0..16 {
            for x in 0..16 {
                for c in 0..3 {
                    let want = px[(y * 16 + 15 - x) * 3 + c] as f32 / 255.0;
                    assert!((f[(y * 16 + x) * 3 + c] - want).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    fn blur_and_rescale_soften_noise() {
        // Mean absolute neighbour difference drops after blur and after down-up rescale.
        let px = noise(64, 5);
        let img: Vec<f32> = px.iter().map(|&p| p as f32 / 255.0).collect();
        let tv =
            |v: &[f32]| v.windows(4).map(|w| (w[3] - w[0]).abs()).sum::<f32>() / v.len() as f32;
        let mut b = img.clone();
        gaussian_blur(&mut b, 64, 64, 1.0);
        let small = resize(&img, 64, 64, 32, 32);
        let up = resize(&small, 32, 32, 64, 64);
        assert!(tv(&b) < 0.5 * tv(&img));
        assert!(tv(&up) < 0.5 * tv(&img));
        // Constant images stay constant.
        let flat = vec![0.25f32; 64 * 64 * 3];
        assert!(resize(&flat, 64, 64, 40, 40)
            .iter()
            .all(|v| (v - 0.25).abs() < 1e-5));
    }
}
