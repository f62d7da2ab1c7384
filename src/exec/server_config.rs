//! Where a database server is and how to log in: what the server engines' executors
//! connect with. Read from a config by `engine::server_settings`.

use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// never encrypt
    Disable,
    /// encrypt when the server offers it, without verifying its certificate
    Prefer,
    /// always encrypt, without verifying the certificate
    Require,
    /// always encrypt, verify the certificate chain and the host name
    VerifyFull,
}

/// Where a database server is and how to log in. Keys given next to a
/// `connection_string`/`url` override the URL's parts.
#[derive(Clone)]
pub struct ServerConfig {
    /// `connection_string` or `url`, validated when the config was read; a secret
    pub url: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database: Option<String>,
    pub user: Option<String>,
    /// from `password` or the first line of `password_file`; a secret
    pub password: Option<String>,
    /// None: the connection string's, else `prefer`
    pub sslmode: Option<SslMode>,
    pub connect_timeout: Duration,
    /// the database the connection ends up in (from `database` or the URL)
    pub effective_database: Option<String>,
}

// by hand, so a password or URL never reaches a log through `{:?}`
impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("url", &self.url.as_ref().map(|_| "<hidden>"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.effective_database)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("sslmode", &self.sslmode)
            .finish()
    }
}
