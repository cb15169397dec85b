//! Builder images through a registry: push one under the registry's name for it, and pull it
//! back by digest on an engine that lacks it (`REGISTRY/repro/NAME@sha256:…`).

use bollard::Docker;
use bollard::query_parameters::{CreateImageOptions, PushImageOptions, RemoveImageOptions, TagImageOptions};
use futures_util::StreamExt;

use super::ImageError;
use super::engine::failed;

/// The repository and tag a registry holds an image under: `REGISTRY/` before our own tag
/// (`repro/NAME:TAG`).
pub(super) fn repository(registry: &str, tag: &str) -> (String, String) {
    let full = format!("{}/{tag}", registry.trim_end_matches('/'));
    // The tag is after the last `:` that follows the last `/` (a registry may have a port).
    match full.rsplit_once(':') {
        Some((repo, t)) if !t.contains('/') => (repo.to_owned(), t.to_owned()),
        _ => (full, "latest".to_owned()),
    }
}

/// Whether `registry` is a registry's host (and port), as engines name them: no scheme, no
/// path, no spaces.
pub fn check_registry(registry: &str) -> Result<(), String> {
    if registry.is_empty() {
        return Err("it is empty".into());
    }
    if registry.contains("://") {
        return Err("give the host and port without a scheme (e.g. 127.0.0.1:5000)".into());
    }
    if registry
        .chars()
        .any(|c| c.is_whitespace() || c == '@' || c == '/')
    {
        return Err("give only the host and port (e.g. registry.example:5000)".into());
    }
    Ok(())
}

/// Pushes the engine's image `image_id` to `registry` as `tag`'s repository, and returns the
/// manifest digest the registry holds it under. The registry's tag is removed from the engine
/// afterwards: the image keeps its own tag.
pub(super) async fn push(
    docker: &Docker,
    image_id: &str,
    registry: &str,
    tag: &str,
) -> Result<String, ImageError> {
    let (repo, t) = repository(registry, tag);
    let name = format!("{repo}:{t}");
    docker
        .tag_image(
            image_id,
            Some(TagImageOptions {
                repo: Some(repo.clone()),
                tag: Some(t.clone()),
            }),
        )
        .await
        .map_err(failed(format!("tag {image_id} as {name}")))?;
    // The engine keeps the digest only while the registry's name is on the image: read it first.
    let pushed = match stream_push(docker, &repo, &t).await {
        Ok(()) => pushed_digest(docker, image_id, &repo).await,
        Err(e) => Err(e),
    };
    // Only the registry's name goes; the image itself stays under its own tag.
    let untag = docker
        .remove_image(
            &name,
            Some(RemoveImageOptions {
                noprune: true,
                ..Default::default()
            }),
            None,
        )
        .await
        .map_err(failed(format!("remove the tag {name}")));
    let digest = pushed?;
    untag?;
    Ok(digest)
}

async fn stream_push(docker: &Docker, repo: &str, tag: &str) -> Result<(), ImageError> {
    let opts = PushImageOptions {
        tag: Some(tag.to_owned()),
        ..Default::default()
    };
    let stream = docker.push_image(repo, Some(opts), None);
    drain(stream, &format!("push {repo}:{tag}"), |i| i.error_detail).await
}

/// Reads an engine's progress stream to its end; the first error in it is the outcome.
async fn drain<T>(
    stream: impl futures_util::Stream<Item = Result<T, bollard::errors::Error>>,
    action: &str,
    error_of: fn(T) -> Option<bollard::models::ErrorDetail>,
) -> Result<(), ImageError> {
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        let info = item.map_err(failed(action))?;
        if let Some(message) = error_of(info).and_then(|d| d.message) {
            return Err(ImageError::Registry {
                action: action.to_owned(),
                message,
            });
        }
    }
    Ok(())
}

/// The digest the engine recorded for `repo` when it pushed the image (its `RepoDigests`).
async fn pushed_digest(docker: &Docker, image_id: &str, repo: &str) -> Result<String, ImageError> {
    let image = docker
        .inspect_image(image_id)
        .await
        .map_err(failed(format!("inspect image {image_id}")))?;
    let prefix = format!("{repo}@");
    image
        .repo_digests
        .unwrap_or_default()
        .iter()
        .find_map(|d| d.strip_prefix(&prefix).map(str::to_owned))
        .ok_or_else(|| ImageError::Registry {
            action: format!("push {repo}"),
            message: "the engine recorded no digest for the pushed image".into(),
        })
}

/// Pulls `repo@digest` and gives it the tag `tag` (`repro/NAME:TAG`), so that the image is
/// found as a loaded one would be.
pub(super) async fn pull(docker: &Docker, registry: &str, tag: &str, digest: &str) -> Result<(), ImageError> {
    let (repo, _) = repository(registry, tag);
    let reference = format!("{repo}@{digest}");
    let opts = CreateImageOptions {
        from_image: Some(reference.clone()),
        ..Default::default()
    };
    let stream = docker.create_image(Some(opts), None, None);
    drain(stream, &format!("pull {reference}"), |i| i.error_detail).await?;
    let (own_repo, own_tag) = tag.rsplit_once(':').unwrap_or((tag, "latest"));
    docker
        .tag_image(
            &reference,
            Some(TagImageOptions {
                repo: Some(own_repo.to_owned()),
                tag: Some(own_tag.to_owned()),
            }),
        )
        .await
        .map_err(failed(format!("tag {reference} as {tag}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_our_tags_under_the_registry() {
        assert_eq!(
            repository("127.0.0.1:5000", "repro/default:0123456789ab"),
            (
                "127.0.0.1:5000/repro/default".to_owned(),
                "0123456789ab".to_owned()
            )
        );
        assert_eq!(
            repository("reg.example/", "repro/go"),
            ("reg.example/repro/go".to_owned(), "latest".to_owned())
        );
        for ok in ["127.0.0.1:5000", "registry.example", "[::1]:5000"] {
            assert!(check_registry(ok).is_ok(), "{ok}");
        }
        for bad in ["", "http://127.0.0.1:5000", "reg.example/path", "a b", "u@h"] {
            assert!(check_registry(bad).is_err(), "{bad}");
        }
    }
}
