//! Verilator harnesses (see issue 4).
