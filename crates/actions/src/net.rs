//! net (being written)
/// policy
#[derive(Debug, Clone, Default)]
pub struct HttpPolicy { /// allow
pub allow_private: bool }
impl HttpPolicy { /// env
pub fn from_env() -> Self { Self::default() } }
