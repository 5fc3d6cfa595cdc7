//! The small subset of Go's `text/template` that cryptogen specs use: literal text with
//! `{{.Field}}` substitutions (spaces inside the braces allowed). Anything else is rejected
//! rather than guessed at.

use crate::error::ToolError;

/// Upper bound on a rendered name, far above any real host name.
const RENDERED_LEN_MAX: usize = 4096;

/// Renders `template`, looking fields up with `lookup` (which returns None for unknown ones).
pub fn render(
    template: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ToolError> {
    let fail = |message: String| ToolError::Template {
        template: template.to_string(),
        message,
    };
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| fail("unclosed action".to_string()))?;
        let action = after[..close].trim();
        let field = action
            .strip_prefix('.')
            .filter(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .ok_or_else(|| {
                fail(format!(
                    "unsupported action {{{{{action}}}}}; only {{{{.Field}}}} is supported"
                ))
            })?;
        let value = lookup(field).ok_or_else(|| fail(format!("unknown field .{field}")))?;
        out.push_str(&value);
        if out.len() > RENDERED_LEN_MAX {
            return Err(fail("rendered text is too long".to_string()));
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(name: &str) -> Option<String> {
        match name {
            "Prefix" => Some("peer".into()),
            "Index" => Some("7".into()),
            "Domain" => Some("org1.example.com".into()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_fields_with_and_without_spaces() {
        assert_eq!(render("{{.Prefix}}{{.Index}}", &fields).unwrap(), "peer7");
        assert_eq!(
            render("x.{{ .Domain }}-{{.Index}}", &fields).unwrap(),
            "x.org1.example.com-7"
        );
        assert_eq!(render("plain", &fields).unwrap(), "plain");
    }

    #[test]
    fn rejects_unknown_fields_and_actions() {
        assert!(render("{{.Nope}}", &fields).is_err());
        assert!(render("{{if .Index}}x{{end}}", &fields).is_err());
        assert!(render("{{.Index", &fields).is_err());
    }
}
