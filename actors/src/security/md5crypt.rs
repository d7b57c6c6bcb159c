//! Apache's `$apr1$` MD5-crypt, the hash `htpasswd -m` and `openssl passwd -apr1` write and
//! Pulsar's basic provider checks.

use md5::{Digest, Md5};

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const MAGIC: &str = "$apr1$";

/// `$apr1$<salt>$<hash>` of `password` with `salt` (at most 8 characters are used).
pub fn apr1_crypt(password: &[u8], salt: &str) -> String {
    let salt: String = salt.chars().take(8).collect();
    let salt_bytes = salt.as_bytes();
    let mut ctx = Md5::new();
    ctx.update(password);
    ctx.update(MAGIC.as_bytes());
    ctx.update(salt_bytes);
    let alternate = Md5::new()
        .chain_update(password)
        .chain_update(salt_bytes)
        .chain_update(password)
        .finalize();
    let mut left = password.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(alternate.get(..n).unwrap_or_default());
        left -= n;
    }
    let first = password.first().copied().unwrap_or(0);
    let mut bits = password.len();
    while bits > 0 {
        ctx.update(if bits & 1 == 1 { [0u8] } else { [first] });
        bits >>= 1;
    }
    let mut digest: [u8; 16] = ctx.finalize().into();
    for round in 0..1000 {
        let mut c = Md5::new();
        if round & 1 == 1 {
            c.update(password);
        } else {
            c.update(digest);
        }
        if round % 3 != 0 {
            c.update(salt_bytes);
        }
        if round % 7 != 0 {
            c.update(password);
        }
        if round & 1 == 1 {
            c.update(digest);
        } else {
            c.update(password);
        }
        digest = c.finalize().into();
    }
    let mut out = format!("{MAGIC}{salt}$");
    let byte = |i: usize| u32::from(digest.get(i).copied().unwrap_or(0));
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        encode64(&mut out, (byte(a) << 16) | (byte(b) << 8) | byte(c), 4);
    }
    encode64(&mut out, byte(11), 2);
    out
}

fn encode64(out: &mut String, mut value: u32, n: usize) {
    for _ in 0..n {
        let index = usize::try_from(value & 0x3f).unwrap_or(0);
        out.push(char::from(ITOA64.get(index).copied().unwrap_or(b'.')));
        value >>= 6;
    }
}
