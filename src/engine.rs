//! The Docker engine connection, shared by the builder images (`image`) and the Docker
//! backend (`runner::docker`): where the engine is, connecting to it through bollard, and
//! settling on an API version both sides speak.

use std::time::Duration;

use bollard::Docker;

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
        let endpoint = docker_host();
        let unreachable = |source| Unreachable {
            endpoint: endpoint.clone(),
            source,
        };
        let docker = Docker::connect_with_defaults()
            .map_err(unreachable)?
            .with_timeout(REQUEST_TIMEOUT)
            .negotiate_version()
            .await
            .map_err(unreachable)?;
        Ok(Engine { docker, endpoint })
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
