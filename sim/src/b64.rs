//! Minimal base64 encoders (standard with padding, URL-safe without padding).

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn encode(input: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1; // 1 byte -> 2 chars, 2 -> 3, 3 -> 4
        for i in 0..4 {
            if i < chars {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with `=` padding (HTTP Basic credentials).
pub fn encode_std(input: &[u8]) -> String {
    encode(input, STD, true)
}

/// URL-safe base64 without padding (WebIds).
pub fn encode_url(input: &[u8]) -> String {
    encode(input, URL, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(encode_std(b""), "");
        assert_eq!(encode_std(b"f"), "Zg==");
        assert_eq!(encode_std(b"fo"), "Zm8=");
        assert_eq!(encode_std(b"foo"), "Zm9v");
        assert_eq!(encode_std(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(encode_url(&[0xfb, 0xff]), "-_8");
        // The path part of the PROTOCOL.md example WebId.
        assert_eq!(
            encode_url(b"ABC_PI_OPS\\AIC681059.PV"),
            "QUJDX1BJX09QU1xBSUM2ODEwNTkuUFY"
        );
    }
}
