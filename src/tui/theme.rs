//! Console themes: a palette and semantic roles, read from TOML.
//!
//! The built-in themes (`themes/*.toml`) are embedded with `include_str!`. Every theme is laid
//! over the default (`dark`), so a user theme only names what it changes; a user file may say
//! `extends = "light"` to start from another built-in. A broken or unknown theme is an error
//! with file, line, column and a hint, never a silent fallback. With `NO_COLOR` every colour is
//! dropped but modifiers stay, so selection and production labels remain visible; health is
//! always also carried by symbols and words in the views. [`contrast`] holds the rule every
//! theme keeps (text 4.5:1, graphics 3:1) and the arithmetic the tests check it with.
//!
//! This module only parses and resolves; it reads a file only when asked by name or path.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use toml::Spanned;

pub mod contrast;

/// The built-in themes, by name, with their TOML text.
pub const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("solarized", include_str!("../../themes/solarized.toml")),
];

/// The theme every other one is laid over.
pub const DEFAULT_THEME: &str = "dark";

macro_rules! roles {
    ($($variant:ident => $key:literal, $doc:literal;)*) => {
        /// A semantic role of the console: views ask for a role, never for a colour.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Ui {
            $(#[doc = $doc] $variant,)*
        }

        impl Ui {
            /// Every role, in declaration order.
            pub const ALL: &'static [Ui] = &[$(Ui::$variant,)*];

            /// The key naming this role in a theme file.
            #[must_use]
            pub fn key(self) -> &'static str {
                match self { $(Ui::$variant => $key,)* }
            }
        }
    };
}

roles! {
    Background => "background", "Whole-screen base (fg and bg).";
    Text => "text", "Ordinary text.";
    Muted => "muted", "Secondary text: units, ages, unmanaged nodes.";
    Border => "border", "Pane borders.";
    BorderFocus => "border_focus", "Border of the focused pane.";
    Title => "title", "Pane titles and column headers.";
    Header => "header", "The top line.";
    Key => "key", "Key names in hints and help.";
    KeyReserved => "key_reserved", "Keys reserved for actions not available yet.";
    Primary => "primary", "A primary's role word.";
    Replica => "replica", "A replica's role word.";
    Up => "up", "A healthy node.";
    Degraded => "degraded", "Loading, busy, stale or erroring nodes.";
    Down => "down", "A node refusing connections.";
    Unresponsive => "unresponsive", "A node that does not answer in time.";
    LagOk => "lag_ok", "Lag under the warning threshold.";
    LagWarn => "lag_warn", "Lag over the warning threshold.";
    LagCritical => "lag_critical", "Lag over the critical threshold.";
    Selection => "selection", "The selected row.";
    Danger => "danger", "Critical anomalies and destructive things.";
    Warning => "warning", "Warnings.";
    Info => "info", "Informational events.";
    Production => "production", "The production label and border.";
    Env => "env", "A non-production environment label.";
    FlashInfo => "flash_info", "Status-line flash messages.";
    FlashError => "flash_error", "Status-line errors.";
    ChartBytes => "chart_bytes", "Lag-in-bytes chart line.";
    ChartSeconds => "chart_seconds", "Lag-in-seconds chart line.";
    Gap => "gap", "Missed polls in charts and sparklines.";
    Input => "input", "Command and filter input.";
}

/// A resolved theme: one style per role.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    /// False under `NO_COLOR`.
    pub colored: bool,
    styles: BTreeMap<Ui, Style>,
}

impl Theme {
    /// The style of a role.
    #[must_use]
    pub fn s(&self, role: Ui) -> Style {
        self.styles.get(&role).copied().unwrap_or_default()
    }

    /// `style` as drawn on the selected row: the selection's colours win, since a cell's own
    /// colour may vanish into the selection's background (a primary's blue on a blue bar was
    /// 1:1). The cell keeps its modifiers; its meaning stays in its symbol and word.
    #[must_use]
    pub fn on_selection(&self, style: Style) -> Style {
        let selection = self.s(Ui::Selection);
        Style {
            fg: selection.fg,
            bg: selection.bg,
            ..style
        }
        .add_modifier(selection.add_modifier)
    }

    /// The built-in default theme.
    ///
    /// # Panics
    /// Never in a released build: a test resolves every built-in theme.
    #[must_use]
    pub fn builtin_default() -> Self {
        #[allow(clippy::expect_used)]
        resolve_builtin(DEFAULT_THEME).expect("the embedded default theme is valid")
    }

    /// The same theme without colours (`NO_COLOR`): modifiers stay, and the roles whose meaning
    /// is carried by colour alone get a modifier instead.
    #[must_use]
    pub fn monochrome(mut self) -> Self {
        for (role, style) in &mut self.styles {
            let mods = style.add_modifier;
            let extra = match role {
                Ui::Selection | Ui::Production | Ui::Input => Modifier::REVERSED,
                Ui::Down | Ui::Danger | Ui::LagCritical | Ui::FlashError | Ui::Title => {
                    Modifier::BOLD
                }
                Ui::Muted | Ui::KeyReserved | Ui::Gap => Modifier::DIM,
                _ => Modifier::empty(),
            };
            *style = Style::default().add_modifier(mods | extra);
        }
        self.colored = false;
        self
    }
}

/// Names of the built-in themes.
#[must_use]
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// A theme that cannot be used: where, what, and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeError {
    pub message: String,
    pub hint: String,
}

impl fmt::Display for ThemeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ThemeError {}

/// What a theme name means: a built-in, or a file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Builtin(&'static str),
    File(PathBuf),
}

/// Decides where a theme name points. A name with a `/` or ending in `.toml` is a path; a
/// bare name is a built-in or `NAME.toml` in the user's themes folder.
///
/// # Errors
/// A bare name that is neither, with the list of built-ins.
pub fn locate(name: &str, user_dir: Option<&Path>) -> Result<Source, ThemeError> {
    if let Some((n, _)) = BUILTIN.iter().find(|(n, _)| *n == name) {
        return Ok(Source::Builtin(n));
    }
    if name.contains('/') || name.ends_with(".toml") {
        return Ok(Source::File(PathBuf::from(name)));
    }
    if let Some(dir) = user_dir {
        let p = dir.join(format!("{name}.toml"));
        if p.is_file() {
            return Ok(Source::File(p));
        }
    }
    Err(ThemeError {
        message: format!("unknown theme '{name}'"),
        hint: format!(
            "built-in themes are {}; or give the path of a .toml theme file",
            builtin_names().join(", ")
        ),
    })
}

/// `$XDG_CONFIG_HOME/redops/themes` (or `~/.config/redops/themes`).
#[must_use]
pub fn user_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|d| !d.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("redops").join("themes"))
}

/// Loads a theme by name or path (reads the file if it is one).
///
/// # Errors
/// Unknown name, unreadable file, or a broken theme (with line and column).
pub fn load(name: &str, no_color: bool) -> Result<Theme, ThemeError> {
    let theme = match locate(name, user_dir().as_deref())? {
        Source::Builtin(n) => resolve_builtin(n)?,
        Source::File(path) => {
            let text = crate::config::read_small_text(&path).map_err(|e| ThemeError {
                message: format!("cannot read theme file '{}': {e}", path.display()),
                hint: "check the path; built-in themes are named without a path".to_string(),
            })?;
            resolve_text(&text, &path.display().to_string())?
        }
    };
    Ok(if no_color { theme.monochrome() } else { theme })
}

/// True when the `NO_COLOR` convention asks for no colour.
#[must_use]
pub fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Resolves a built-in theme (laid over the default).
///
/// # Errors
/// Only if an embedded theme is broken (a test guards against it).
pub fn resolve_builtin(name: &str) -> Result<Theme, ThemeError> {
    let text = builtin_text(name).ok_or_else(|| ThemeError {
        message: format!("unknown theme '{name}'"),
        hint: format!("built-in themes are {}", builtin_names().join(", ")),
    })?;
    let mut layers = vec![parse_layer(
        builtin_text(DEFAULT_THEME).unwrap_or(""),
        DEFAULT_THEME,
    )?];
    if name != DEFAULT_THEME {
        layers.push(parse_layer(text, name)?);
    }
    resolve_layers(&layers, name)
}

/// Resolves a user theme file's text: the default, the built-in it extends, then the file.
///
/// # Errors
/// Syntax errors, unknown keys, roles or colours, with `label:line:column`.
pub fn resolve_text(text: &str, label: &str) -> Result<Theme, ThemeError> {
    let user = parse_layer(text, label)?;
    let mut layers = vec![parse_layer(
        builtin_text(DEFAULT_THEME).unwrap_or(""),
        DEFAULT_THEME,
    )?];
    if let Some(ext) = &user.raw.extends {
        let base = builtin_text(ext.get_ref()).ok_or_else(|| {
            user.error(
                ext.span(),
                &format!("'extends' names unknown theme '{}'", ext.get_ref()),
                &format!("a theme can extend {}", builtin_names().join(", ")),
            )
        })?;
        if ext.get_ref() != DEFAULT_THEME {
            layers.push(parse_layer(base, ext.get_ref())?);
        }
    }
    let name = user.raw.name.clone().unwrap_or_else(|| label.to_string());
    layers.push(user);
    resolve_layers(&layers, &name)
}

fn builtin_text(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTheme {
    name: Option<String>,
    extends: Option<Spanned<String>>,
    #[serde(default)]
    palette: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    roles: BTreeMap<String, Spanned<toml::Value>>,
}

/// One parsed file, kept with its text so later errors can name a line and column.
struct Layer<'a> {
    raw: RawTheme,
    text: &'a str,
    label: String,
}

impl Layer<'_> {
    fn error(&self, span: std::ops::Range<usize>, what: &str, hint: &str) -> ThemeError {
        let (line, col) = line_col(self.text, span.start);
        ThemeError {
            message: format!("theme '{}':{line}:{col}: {what}", self.label),
            hint: hint.to_string(),
        }
    }
}

fn parse_layer<'a>(text: &'a str, label: &str) -> Result<Layer<'a>, ThemeError> {
    match toml::from_str::<RawTheme>(text) {
        Ok(raw) => Ok(Layer {
            raw,
            text,
            label: label.to_string(),
        }),
        Err(e) => {
            let (line, col) = e.span().map_or((1, 1), |s| line_col(text, s.start));
            let msg = e.message().trim().to_string();
            Err(ThemeError {
                message: format!("theme '{label}':{line}:{col}: {msg}"),
                hint: "a theme has `name`, `extends`, a [palette] of colours and [roles]; \
                       see the built-in themes for every role"
                    .to_string(),
            })
        }
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn resolve_layers(layers: &[Layer<'_>], name: &str) -> Result<Theme, ThemeError> {
    // Later layers win, for palette entries and for roles alike.
    let mut palette: BTreeMap<&str, (&Spanned<String>, &Layer<'_>)> = BTreeMap::new();
    let mut roles: BTreeMap<&str, (&Spanned<toml::Value>, &Layer<'_>)> = BTreeMap::new();
    for layer in layers {
        for (k, v) in &layer.raw.palette {
            palette.insert(k, (v, layer));
        }
        for (k, v) in &layer.raw.roles {
            if !Ui::ALL.iter().any(|r| r.key() == k) {
                return Err(layer.error(
                    v.span(),
                    &format!("unknown role '{k}'"),
                    &format!(
                        "roles are: {}",
                        Ui::ALL
                            .iter()
                            .map(|r| r.key())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            roles.insert(k, (v, layer));
        }
    }
    let mut colors: BTreeMap<&str, Color> = BTreeMap::new();
    for (k, (v, layer)) in &palette {
        let c = parse_color(v.get_ref()).ok_or_else(|| {
            layer.error(
                v.span(),
                &format!("palette colour '{k}' = '{}' is not a colour", v.get_ref()),
                "write \"#rrggbb\", an ANSI name like \"red\" or \"darkgray\", or 0-255",
            )
        })?;
        colors.insert(k, c);
    }
    let mut styles = BTreeMap::new();
    for role in Ui::ALL {
        let Some((v, layer)) = roles.get(role.key()) else {
            return Err(ThemeError {
                message: format!("theme '{name}' does not define role '{}'", role.key()),
                hint: "add it under [roles], or extend a built-in theme".to_string(),
            });
        };
        styles.insert(*role, role_style(role.key(), v, layer, &colors)?);
    }
    Ok(Theme {
        name: name.to_string(),
        colored: true,
        styles,
    })
}

fn parse_color(s: &str) -> Option<Color> {
    if s.trim().is_empty() {
        return None;
    }
    Color::from_str(s).ok()
}

fn role_style(
    role: &str,
    v: &Spanned<toml::Value>,
    layer: &Layer<'_>,
    colors: &BTreeMap<&str, Color>,
) -> Result<Style, ThemeError> {
    let color = |s: &str| -> Result<Color, ThemeError> {
        colors
            .get(s)
            .copied()
            .or_else(|| parse_color(s))
            .ok_or_else(|| {
                let names: Vec<&str> = colors.keys().copied().collect();
                layer.error(
                    v.span(),
                    &format!("unknown colour '{s}' for role '{role}'"),
                    &format!(
                        "use a palette name ({}), \"#rrggbb\", or an ANSI name like \"red\"",
                        names.join(", ")
                    ),
                )
            })
    };
    let bad = |what: &str| {
        layer.error(
            v.span(),
            &format!("role '{role}': {what}"),
            "a role is a colour (\"red\") or a table like { fg = \"red\", bg = \"bg\", bold = true }",
        )
    };
    match v.get_ref() {
        toml::Value::String(s) => Ok(Style::default().fg(color(s)?)),
        toml::Value::Table(t) => {
            let mut style = Style::default();
            for (k, val) in t {
                match (k.as_str(), val) {
                    ("fg", toml::Value::String(s)) => style = style.fg(color(s)?),
                    ("bg", toml::Value::String(s)) => style = style.bg(color(s)?),
                    (m, toml::Value::Boolean(on)) => {
                        let modifier = match m {
                            "bold" => Modifier::BOLD,
                            "dim" => Modifier::DIM,
                            "italic" => Modifier::ITALIC,
                            "underlined" => Modifier::UNDERLINED,
                            "reversed" => Modifier::REVERSED,
                            _ => return Err(bad(&format!("unknown key '{m}'"))),
                        };
                        if *on {
                            style = style.add_modifier(modifier);
                        }
                    }
                    (other, _) => return Err(bad(&format!("'{other}' has the wrong type"))),
                }
            }
            Ok(style)
        }
        _ => Err(bad("expected a colour or a table")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_resolves_and_stands_alone() {
        for (name, text) in BUILTIN {
            assert!(resolve_builtin(name).is_ok(), "{name}");
            // Each shipped file defines every role itself, so it reads as a full reference.
            let layer = parse_layer(text, name).unwrap();
            for role in Ui::ALL {
                assert!(
                    layer.raw.roles.contains_key(role.key()),
                    "{name} lacks {}",
                    role.key()
                );
            }
        }
    }

    #[test]
    fn user_theme_overlays_default() {
        let t = resolve_text("[roles]\nprimary = \"#ff0000\"\n", "mine.toml").unwrap();
        assert_eq!(t.s(Ui::Primary).fg, Some(Color::Rgb(255, 0, 0)));
        assert_eq!(t.s(Ui::Down), Theme::builtin_default().s(Ui::Down));
    }

    #[test]
    fn palette_override_recolours_base_roles() {
        let base = Theme::builtin_default();
        let t = resolve_text("extends = \"light\"\n[palette]\nred = \"#010203\"\n", "x").unwrap();
        assert_ne!(t, base);
        assert!(Ui::ALL
            .iter()
            .any(|r| t.s(*r).fg == Some(Color::Rgb(1, 2, 3))));
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = resolve_text("name = \"x\"\n[roles]\nprimary = \"blu\"\n", "t.toml").unwrap_err();
        assert!(
            e.message
                .starts_with("theme 't.toml':3:11: unknown colour 'blu'"),
            "{e}"
        );
        assert!(e.hint.contains("palette name"));

        let e = resolve_text("[roles]\nprimry = \"red\"\n", "t.toml").unwrap_err();
        assert!(e.message.contains(":2:10: unknown role 'primry'"), "{e}");

        let e = resolve_text("[palete]\n", "t.toml").unwrap_err();
        assert!(e.message.starts_with("theme 't.toml':1:"), "{e}");
        assert!(e.message.contains("palete"), "{e}");

        let e = resolve_text("name = \n", "t.toml").unwrap_err();
        assert!(e.message.starts_with("theme 't.toml':1:"), "{e}");

        let e = resolve_text("extends = \"neon\"\n", "t.toml").unwrap_err();
        assert!(
            e.message
                .contains(":1:11: 'extends' names unknown theme 'neon'"),
            "{e}"
        );

        let e = resolve_text("[roles]\nup = { fg = \"red\", blink = true }\n", "t").unwrap_err();
        assert!(e.message.contains("unknown key 'blink'"), "{e}");
    }

    #[test]
    fn unknown_name_is_an_error_not_a_fallback() {
        let e = locate("neon", None).unwrap_err();
        assert_eq!(e.message, "unknown theme 'neon'");
        assert!(e.hint.contains("high-contrast"));
        assert_eq!(
            locate("./x.toml", None),
            Ok(Source::File(PathBuf::from("./x.toml")))
        );
        assert!(load("/nonexistent/theme.toml", false).is_err());
    }

    #[test]
    fn monochrome_keeps_selection_visible() {
        let t = Theme::builtin_default().monochrome();
        assert!(!t.colored);
        for r in Ui::ALL {
            assert_eq!(t.s(*r).fg, None);
            assert_eq!(t.s(*r).bg, None);
        }
        assert!(t.s(Ui::Selection).add_modifier.contains(Modifier::REVERSED));
        assert!(t
            .s(Ui::Production)
            .add_modifier
            .contains(Modifier::REVERSED));
    }
}
