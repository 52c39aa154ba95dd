//! CRC-32 (IEEE 802.3, as zlib/PNG/Ethernet): reflected polynomial `0xEDB88320`, initial value
//! and final XOR `0xFFFF_FFFF`. A 16-entry (nibble) table: 64 bytes of ROM, two lookups per byte.

const POLY: u32 = 0xEDB8_8320;

const fn nibble_table() -> [u32; 16] {
    let mut t = [0u32; 16];
    let mut i = 0;
    while i < 16 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 4 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static TABLE: [u32; 16] = nibble_table();

/// Continues a CRC-32 over `bytes` from a running (non-finalised) state; start with `!0`.
pub fn update(mut crc: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        crc ^= u32::from(b);
        crc = (crc >> 4) ^ TABLE[(crc & 0xF) as usize];
        crc = (crc >> 4) ^ TABLE[(crc & 0xF) as usize];
    }
    crc
}

/// CRC-32 (IEEE) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    !update(!0, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values() {
        // The standard CRC-32/ISO-HDLC check value (catalogue of parametrised CRCs): "123456789".
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        // python3 -c "import zlib; print(hex(zlib.crc32(b'The quick brown fox jumps over the lazy dog')))"
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
        // incremental == one shot
        let s = b"cnnfpga model blob";
        assert_eq!(!update(update(!0, &s[..5]), &s[5..]), crc32(s));
    }
}
