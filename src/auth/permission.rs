//! Permission matching as Nacos's `NacosRoleServiceImpl.hasPermission`: a `ROLE_ADMIN` user may
//! do anything; otherwise some role of the user must hold a permission whose action contains
//! the asked one (`rw` holds `r` and `w`) and whose resource pattern (`*` = any text) matches
//! the whole asked resource `namespace:group:type/name`.

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Write,
}

impl Action {
    pub fn letter(self) -> &'static str {
        match self {
            Action::Read => "r",
            Action::Write => "w",
        }
    }
}

/// The resource string Nacos's `joinResource` builds: a blank group becomes `*`, a blank name
/// `type/*`.
pub fn resource(namespace: &str, group: &str, kind: &str, name: &str) -> String {
    let group = if group.trim().is_empty() { "*" } else { group };
    let name = if name.trim().is_empty() { "*" } else { name };
    format!("{namespace}:{group}:{kind}/{name}")
}

/// Whether `pattern` (where `*` stands for any text, possibly empty) matches all of `text`.
/// Iterative with one backtrack point, so it is linear-ish and never recursive.
pub fn matches(pattern: &str, text: &str) -> bool {
    let pattern = pattern.as_bytes();
    let text = text.as_bytes();
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

/// Whether one permission row `(resource pattern, action)` allows `action` on `resource`.
pub fn allows(pattern: &str, granted: &str, action: Action, resource: &str) -> bool {
    granted.contains(action.letter()) && matches(pattern, resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("*", ""));
        assert!(matches("*", "public:g:naming/s"));
        assert!(matches("public:*:*", "public:DEFAULT_GROUP:naming/svc"));
        assert!(matches(
            "public:DEFAULT_GROUP:config/*",
            "public:DEFAULT_GROUP:config/a.b"
        ));
        assert!(!matches(
            "public:DEFAULT_GROUP:config/*",
            "public:DEFAULT_GROUP:naming/a"
        ));
        assert!(!matches("dev:*:*", "public:g:naming/s"));
        assert!(matches("*:*:naming/*", "dev:g:naming/s"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxbyy"));
        assert!(!matches("abc", "abcd"));
        assert!(matches("", ""));
    }

    #[test]
    fn actions() {
        let r = "public:g:naming/s";
        assert!(allows("public:*:*", "rw", Action::Read, r));
        assert!(allows("public:*:*", "rw", Action::Write, r));
        assert!(allows("public:*:*", "r", Action::Read, r));
        assert!(!allows("public:*:*", "r", Action::Write, r));
        assert!(!allows("public:*:*", "w", Action::Read, r));
    }

    #[test]
    fn resource_strings() {
        assert_eq!(resource("public", "G", "naming", "s"), "public:G:naming/s");
        assert_eq!(resource("public", "", "config", ""), "public:*:config/*");
    }
}
