//! Numbers as people read them, for messages: a leaf every layer may use.

use std::time::Duration;

/// Short human form: `250ms`, `5s`, `2m`, `1h30m`, `3d`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let mut secs = d.as_secs();
    if secs < 60 && ms % 1000 != 0 {
        return format!("{:.1}s", d.as_secs_f64());
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// `4,870`: a count with thousands separators.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Appends the decimal digits of `n`, without the formatting machinery: for outputs that
/// write hundreds of thousands of numbers (the metrics text, the status site's charts).
pub fn push_digits(out: &mut String, mut n: u64) {
    let (mut buf, mut i) = ([0u8; 20], 20);
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

#[cfg(test)]
mod thousands_tests {
    #[test]
    fn digits_are_the_display_form() {
        for n in [0u64, 7, 10, 99, 100, 123_456_789, u64::MAX] {
            let mut s = String::new();
            super::push_digits(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(4870), "4,870");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
    }
}
