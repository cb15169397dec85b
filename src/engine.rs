//! The Docker engine connection, shared by the builder images (`image`) and the Docker
//! backend (`runner::docker`): where the engine is, connecting to it through bollard, and
//! settling on an API version both sides speak.

use std::time::Duration;

use std::path::PathBuf;

use bollard::Docker;
use serde::{Deserialize, Serialize};

/// bollard's per-request timeout also bounds loading an image archive, waiting for a
/// container and following its logs, so it is only a guard against a hung engine; repro
/// enforces build timeouts itself. Loading ~600 MB over a slow link to a remote engine can
/// take minutes; bollard's default is two.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// bollard's default when `DOCKER_HOST` is unset (it does not export the constant).
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// The engine address in use: `DOCKER_HOST`, else the default socket.
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_owned())
}

/// The engine could not be reached (or would not settle on an API version).
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the Docker engine at {endpoint}")]
pub struct Unreachable {
    pub endpoint: String,
    #[source]
    pub source: bollard::errors::Error,
}

/// One engine: its connection and the address it was reached at (engines of a fleet are told
/// apart by it).
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    endpoint: String,
}

impl Engine {
    /// Connects to the engine named by `DOCKER_HOST` (unix, tcp, https with
    /// DOCKER_TLS_VERIFY, ssh) and settles on an API version both sides speak: bollard asks
    /// for a newer one than older engines (Docker 20.10 speaks 1.41) accept.
    pub async fn connect() -> Result<Engine, Unreachable> {
        Engine::connect_to(&EngineAddress {
            url: docker_host(),
            tls: None,
        })
        .await
    }

    /// Connects to the engine at `address` (`unix://`, `tcp://` — with TLS when
    /// `address.tls` names the folder holding `ca.pem`, `cert.pem` and `key.pem` —, `ssh://`),
    /// whatever `DOCKER_HOST` says, and settles on an API version.
    pub async fn connect_to(address: &EngineAddress) -> Result<Engine, Unreachable> {
        let endpoint = address.url.clone();
        let unreachable = |source| Unreachable {
            endpoint: endpoint.clone(),
            source,
        };
        let docker = match &address.tls {
            Some(dir) => Docker::connect_with_ssl(
                &address.url,
                &dir.join("key.pem"),
                &dir.join("cert.pem"),
                &dir.join("ca.pem"),
                REQUEST_TIMEOUT.as_secs(),
                bollard::API_DEFAULT_VERSION,
            ),
            None => Docker::connect_with_host(&address.url),
        }
        .map_err(unreachable)?
        .with_timeout(REQUEST_TIMEOUT)
        .negotiate_version()
        .await
        .map_err(unreachable)?;
        Ok(Engine { docker, endpoint })
    }

    /// Who this engine is: its ID, OS and kernel as it reports them, and the address it was
    /// reached at (two engines on one host may report the same ID).
    pub async fn identify(&self) -> Result<EngineIdentity, Unreachable> {
        let info = self.docker.info().await.map_err(|source| Unreachable {
            endpoint: self.endpoint.clone(),
            source,
        })?;
        Ok(EngineIdentity {
            id: info.id.unwrap_or_default(),
            url: self.endpoint.clone(),
            os: info.operating_system.unwrap_or_default(),
            kernel: info.kernel_version.unwrap_or_default(),
        })
    }

    /// Checks that the engine answers.
    pub async fn ping(&self) -> Result<(), Unreachable> {
        self.docker.ping().await.map(drop).map_err(|source| Unreachable {
            endpoint: self.endpoint.clone(),
            source,
        })
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

/// Where an engine is, as a fleet is told: a URL, and for `tcp://` with TLS the folder of its
/// client certificates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineAddress {
    pub url: String,
    /// A folder holding `ca.pem`, `cert.pem` and `key.pem` (as `DOCKER_CERT_PATH` does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<PathBuf>,
}

/// The engine a run went to, as reports and attestations record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineIdentity {
    /// The engine's own ID (`docker info`); shared by engines that share a key file.
    pub id: String,
    /// The address it was reached at: with the ID, what tells engines apart.
    pub url: String,
    pub os: String,
    pub kernel: String,
}

/// Where a run went: its engine, and the engines it was tried on first and lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub engine: EngineIdentity,
    /// Earlier attempts of this run, each lost with its engine ("URL (ID): what happened").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<String>,
}
