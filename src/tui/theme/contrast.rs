//! WCAG 2 contrast between the colours a cell is drawn in, so themes can be held to a rule:
//! text at 4.5:1 or more against what it sits on (AA), graphics (borders, chart dots) at 3:1.
//!
//! Named and indexed ANSI colours have no fixed value (the terminal decides); they are taken
//! at xterm's defaults, the most common reference. Themes that must hold the rule on every
//! terminal use `#rrggbb`. This module only computes; it draws and reads nothing.

use ratatui::style::{Color, Modifier, Style};

/// Text needs this ratio against its background (WCAG 2 AA, normal text).
pub const TEXT: f64 = 4.5;
/// Graphics (box drawing, block elements, braille chart dots) need this (WCAG 2 1.4.11).
pub const GRAPHIC: f64 = 3.0;

/// A colour as the screen shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// xterm's default 16 ANSI colours, in ANSI order (0 black .. 15 bright white).
const XTERM_16: [Rgb; 16] = [
    Rgb(0x00, 0x00, 0x00),
    Rgb(0xcd, 0x00, 0x00),
    Rgb(0x00, 0xcd, 0x00),
    Rgb(0xcd, 0xcd, 0x00),
    Rgb(0x00, 0x00, 0xee),
    Rgb(0xcd, 0x00, 0xcd),
    Rgb(0x00, 0xcd, 0xcd),
    Rgb(0xe5, 0xe5, 0xe5),
    Rgb(0x7f, 0x7f, 0x7f),
    Rgb(0xff, 0x00, 0x00),
    Rgb(0x00, 0xff, 0x00),
    Rgb(0xff, 0xff, 0x00),
    Rgb(0x5c, 0x5c, 0xff),
    Rgb(0xff, 0x00, 0xff),
    Rgb(0x00, 0xff, 0xff),
    Rgb(0xff, 0xff, 0xff),
];

/// The value of a colour: RGB as given, ANSI colours at xterm's defaults (the 6x6x6 cube and
/// the grey ramp for 16-255); `None` for `Reset`, which means "the terminal's own".
#[must_use]
pub fn rgb(c: Color) -> Option<Rgb> {
    let ansi = |i: usize| Some(XTERM_16[i]);
    match c {
        Color::Reset => None,
        Color::Rgb(r, g, b) => Some(Rgb(r, g, b)),
        Color::Black => ansi(0),
        Color::Red => ansi(1),
        Color::Green => ansi(2),
        Color::Yellow => ansi(3),
        Color::Blue => ansi(4),
        Color::Magenta => ansi(5),
        Color::Cyan => ansi(6),
        Color::Gray => ansi(7),
        Color::DarkGray => ansi(8),
        Color::LightRed => ansi(9),
        Color::LightGreen => ansi(10),
        Color::LightYellow => ansi(11),
        Color::LightBlue => ansi(12),
        Color::LightMagenta => ansi(13),
        Color::LightCyan => ansi(14),
        Color::White => ansi(15),
        Color::Indexed(i) => Some(indexed(i)),
    }
}

fn indexed(i: u8) -> Rgb {
    match i {
        0..=15 => XTERM_16[usize::from(i)],
        16..=231 => {
            let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
            let k = i - 16;
            Rgb(level(k / 36), level(k / 6 % 6), level(k % 6))
        }
        232..=255 => {
            let v = 8 + 10 * (i - 232);
            Rgb(v, v, v)
        }
    }
}

/// WCAG 2 relative luminance, 0 (black) to 1 (white).
#[must_use]
pub fn luminance(c: Rgb) -> f64 {
    let lin = |v: u8| {
        let s = f64::from(v) / 255.0;
        if s <= 0.040_45 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c.0) + 0.7152 * lin(c.1) + 0.0722 * lin(c.2)
}

/// WCAG 2 contrast ratio, 1 (same) to 21 (black on white); symmetric.
#[must_use]
pub fn ratio(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The colours a cell is seen in: `Reset` takes the `base` style's colour (the theme's
/// background role, which paints the whole screen), `REVERSED` swaps them, and `DIM` is taken
/// as the foreground halfway to the background (terminals dim differently; this is a middle
/// guess). `None` when a colour is left to the terminal.
#[must_use]
pub fn shown(fg: Color, bg: Color, modifier: Modifier, base: Style) -> Option<(Rgb, Rgb)> {
    let or_base = |c: Color, b: Option<Color>| match c {
        Color::Reset => b.and_then(rgb),
        other => rgb(other),
    };
    let (mut f, mut b) = (or_base(fg, base.fg)?, or_base(bg, base.bg)?);
    if modifier.contains(Modifier::REVERSED) {
        std::mem::swap(&mut f, &mut b);
    }
    if modifier.contains(Modifier::DIM) {
        let mid =
            |x: u8, y: u8| u8::try_from(u16::midpoint(u16::from(x), u16::from(y))).unwrap_or(x);
        f = Rgb(mid(f.0, b.0), mid(f.1, b.1), mid(f.2, b.2));
    }
    Some((f, b))
}

/// Whether a symbol is a graphic rather than text: box drawing, block elements (sparklines)
/// and braille (chart dots) need [`GRAPHIC`]; everything else is read and needs [`TEXT`].
#[must_use]
pub fn is_graphic(symbol: &str) -> bool {
    !symbol.is_empty()
        && symbol
            .chars()
            .all(|c| matches!(c, '\u{2500}'..='\u{259f}' | '\u{2800}'..='\u{28ff}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ratios() {
        let black = Rgb(0, 0, 0);
        let white = Rgb(255, 255, 255);
        assert!((ratio(black, white) - 21.0).abs() < 1e-9);
        assert!((ratio(white, white) - 1.0).abs() < 1e-9);
        // #767676 on white is the classic "just passes AA" grey.
        let r = ratio(Rgb(0x76, 0x76, 0x76), white);
        assert!((4.5..4.6).contains(&r), "{r}");
    }

    #[test]
    fn ansi_colours_take_xterm_defaults() {
        assert_eq!(rgb(Color::Gray), Some(Rgb(0xe5, 0xe5, 0xe5)));
        assert_eq!(rgb(Color::Indexed(16)), Some(Rgb(0, 0, 0)));
        assert_eq!(rgb(Color::Indexed(196)), Some(Rgb(255, 0, 0)));
        assert_eq!(rgb(Color::Indexed(244)), Some(Rgb(128, 128, 128)));
        assert_eq!(rgb(Color::Reset), None);
    }

    #[test]
    fn reset_reversed_and_dim() {
        let base = Style::default().fg(Color::White).bg(Color::Black);
        let (f, b) = shown(Color::Reset, Color::Reset, Modifier::REVERSED, base).unwrap();
        assert_eq!((f, b), (Rgb(0, 0, 0), Rgb(255, 255, 255)));
        let (f, _) = shown(Color::White, Color::Black, Modifier::DIM, base).unwrap();
        assert_eq!(f, Rgb(127, 127, 127));
        assert!(shown(Color::Reset, Color::Reset, Modifier::empty(), Style::new()).is_none());
    }
}
