//! The seeded generator of the harnesses, benches and random layers: the project's one
//! SplitMix64, [`firmware::rng::SplitMix64`], under the name the sim code has always used.
//! Seeded stimulus (and so every recorded bench number) depends on its exact sequence.

pub use firmware::rng::SplitMix64 as Rng;
