//! One registry: the distribution API calls a copy needs (`/v2/` ping, manifests, blob HEAD,
//! streamed GET, upload with digest, cross-repository mount).

use std::path::PathBuf;

use bytes::Bytes;
use futures::Stream;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};

use crate::{Error, Result};

/// Media types a manifest GET accepts: OCI and Docker v2, images and indexes.
pub(crate) const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// How to reach a registry.
#[derive(Clone, Default)]
pub struct ClientConfig {
    /// Accept any TLS certificate and fall back to plain HTTP (lab registries only).
    pub insecure: bool,
    /// A PEM file with the CA that signed the registry's certificate (added to the system roots).
    pub ca_file: Option<PathBuf>,
    /// A CA certificate given inline (PEM), e.g. the spec's `caCertContent`.
    pub ca_pem: Option<String>,
    /// Basic-auth user.
    pub username: Option<String>,
    /// Basic-auth password; never printed.
    pub password: Option<String>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("insecure", &self.insecure)
            .field("ca_file", &self.ca_file)
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "<pem>"))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A manifest exactly as the registry serves it.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// Its bytes (copied unchanged, so the digest is preserved).
    pub bytes: Bytes,
    /// Its media type (`Content-Type`).
    pub media_type: String,
    /// `sha256:` of the bytes.
    pub digest: String,
}

/// A registry reachable over HTTP(S).
#[derive(Clone)]
pub struct Registry {
    host: String,
    base: Url,
    http: reqwest::Client,
    authorization: Option<String>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

fn transport(host: &str, operation: &str) -> impl FnOnce(reqwest::Error) -> Error {
    let (host, operation) = (host.to_string(), operation.to_string());
    move |e| {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        Error::Transport {
            registry: host,
            operation,
            message,
        }
    }
}

impl Registry {
    /// Connects to `host` (`name[:port]`) and checks `/v2/` (and the credentials). With
    /// `insecure`, HTTPS without certificate checks is tried first, then plain HTTP.
    ///
    /// # Errors
    /// [`Error::Unauthorized`] for refused credentials, [`Error::CaFile`], or the transport
    /// error of the last scheme tried.
    pub async fn new(host: &str, config: &ClientConfig) -> Result<Registry> {
        crate::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .pool_max_idle_per_host(16)
            .user_agent(concat!("anywhere/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &config.ca_file {
            let shown = path.display().to_string();
            let pem = std::fs::read(path).map_err(|e| Error::CaFile {
                path: shown.clone(),
                message: e.to_string(),
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::CaFile {
                path: shown.clone(),
                message: e.to_string(),
            })?;
            if certs.is_empty() {
                return Err(Error::CaFile {
                    path: shown,
                    message: "no PEM certificate in it".into(),
                });
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some(pem) = &config.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| Error::CaFile {
                path: "inline CA".into(),
                message: e.to_string(),
            })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if config.insecure {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let http = builder.build().map_err(transport(host, "build HTTP client"))?;
        let authorization = config.username.as_ref().map(|user| {
            use base64::Engine;
            let pair = format!("{user}:{}", config.password.as_deref().unwrap_or(""));
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
        });
        let schemes: &[&str] = if config.insecure {
            &["https", "http"]
        } else {
            &["https"]
        };
        let mut last = None;
        for scheme in schemes {
            let base = Url::parse(&format!("{scheme}://{host}/")).map_err(|e| Error::Reference {
                origin: host.to_string(),
                message: format!("not a registry host: {e}"),
            })?;
            let registry = Registry {
                host: host.to_string(),
                base,
                http: http.clone(),
                authorization: authorization.clone(),
            };
            match registry.ping().await {
                Ok(()) => return Ok(registry),
                Err(e @ Error::Unauthorized { .. }) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Transport {
            registry: host.to_string(),
            operation: "connect".into(),
            message: "no scheme to try".into(),
        }))
    }

    /// The host this registry was opened with.
    pub fn host(&self) -> &str {
        &self.host
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let request = self.http.request(method, url);
        match &self.authorization {
            Some(value) => request.header(AUTHORIZATION, value),
            None => request,
        }
    }

    fn url(&self, path: &str) -> Url {
        // Paths are built from validated repository names and digests; join cannot fail on them.
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    async fn send(&self, request: RequestBuilder, operation: &str) -> Result<Response> {
        let response = request.send().await.map_err(transport(&self.host, operation))?;
        match response.status() {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(Error::Unauthorized {
                registry: self.host.clone(),
                status: response.status().as_u16(),
            }),
            _ => Ok(response),
        }
    }

    async fn unexpected(&self, response: Response, operation: &str) -> Error {
        let status = response.status().as_u16();
        let mut body = response.text().await.unwrap_or_default();
        body.truncate(300);
        Error::Status {
            registry: self.host.clone(),
            operation: operation.to_string(),
            status,
            body: body.trim().to_string(),
        }
    }

    /// `GET /v2/`: reachable, speaks the distribution API, accepts our credentials.
    ///
    /// # Errors
    /// [`Error::Unauthorized`], [`Error::Transport`] or [`Error::Status`].
    pub async fn ping(&self) -> Result<()> {
        let response = self
            .send(self.request(Method::GET, self.url("v2/")), "GET /v2/")
            .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(self.unexpected(response, "GET /v2/").await)
        }
    }

    /// The manifest `repository:reference` (tag or digest), verified against its digest when
    /// fetched by digest.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::DigestMismatch`], or a transport/status error.
    pub async fn manifest(&self, repository: &str, reference: &str) -> Result<Manifest> {
        let what = format!("manifest {repository}:{reference}");
        let url = self.url(&format!("v2/{repository}/manifests/{reference}"));
        let response = self
            .send(
                self.request(Method::GET, url).header(ACCEPT, MANIFEST_TYPES),
                &format!("get {what}"),
            )
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(Error::NotFound {
                registry: self.host.clone(),
                what,
            });
        }
        if !response.status().is_success() {
            return Err(self.unexpected(response, &format!("get {what}")).await);
        }
        let media_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let bytes = response.bytes().await.map_err(transport(&self.host, &what))?;
        let digest = crate::digest_of(&bytes);
        if reference.starts_with("sha256:") && digest != reference {
            return Err(Error::DigestMismatch {
                what,
                expected: reference.to_string(),
                actual: digest,
            });
        }
        let media_type = if media_type.is_empty() || media_type == "application/json" {
            // Fall back on the manifest's own mediaType field.
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("mediaType").and_then(|m| m.as_str()).map(str::to_string))
                .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".into())
        } else {
            media_type
        };
        Ok(Manifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// Whether `repository` has a manifest `reference` (HEAD).
    ///
    /// # Errors
    /// A transport or status error other than 404.
    pub async fn has_manifest(&self, repository: &str, reference: &str) -> Result<bool> {
        let operation = format!("head manifest {repository}:{reference}");
        let url = self.url(&format!("v2/{repository}/manifests/{reference}"));
        let response = self
            .send(
                self.request(Method::HEAD, url).header(ACCEPT, MANIFEST_TYPES),
                &operation,
            )
            .await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.unexpected(response, &operation).await),
        }
    }

    /// Stores `manifest` as `repository:reference`.
    ///
    /// # Errors
    /// A transport or status error (e.g. a blob it names is missing).
    pub async fn put_manifest(&self, repository: &str, reference: &str, manifest: &Manifest) -> Result<()> {
        let operation = format!("put manifest {repository}:{reference}");
        let url = self.url(&format!("v2/{repository}/manifests/{reference}"));
        let request = self
            .request(Method::PUT, url)
            .header(CONTENT_TYPE, &manifest.media_type)
            .body(manifest.bytes.clone());
        let response = self.send(request, &operation).await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(self.unexpected(response, &operation).await)
        }
    }

    /// Whether `repository` has the blob `digest` (HEAD).
    ///
    /// # Errors
    /// A transport or status error other than 404.
    pub async fn has_blob(&self, repository: &str, digest: &str) -> Result<bool> {
        let operation = format!("head blob {repository}@{digest}");
        let url = self.url(&format!("v2/{repository}/blobs/{digest}"));
        let response = self.send(self.request(Method::HEAD, url), &operation).await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.unexpected(response, &operation).await),
        }
    }

    /// Streams the blob `digest` of `repository`.
    ///
    /// # Errors
    /// [`Error::NotFound`] or a transport/status error.
    pub async fn blob(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<impl Stream<Item = reqwest::Result<Bytes>> + Send + 'static> {
        let what = format!("blob {repository}@{digest}");
        let url = self.url(&format!("v2/{repository}/blobs/{digest}"));
        let response = self
            .send(self.request(Method::GET, url), &format!("get {what}"))
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(Error::NotFound {
                registry: self.host.clone(),
                what,
            });
        }
        if !response.status().is_success() {
            return Err(self.unexpected(response, &format!("get {what}")).await);
        }
        Ok(response.bytes_stream())
    }

    /// Asks the registry to link the blob `digest` from `from` into `repository`. Returns
    /// `None` when mounted, or the upload URL the registry opened instead.
    async fn mount_or_start(
        &self,
        repository: &str,
        digest: &str,
        from: Option<&str>,
    ) -> Result<Option<Url>> {
        let operation = format!("start upload {repository}@{digest}");
        let mut url = self.url(&format!("v2/{repository}/blobs/uploads/"));
        if let Some(from) = from {
            url.query_pairs_mut()
                .append_pair("mount", digest)
                .append_pair("from", from);
        }
        let response = self
            .send(
                self.request(Method::POST, url).header(CONTENT_LENGTH, "0"),
                &operation,
            )
            .await?;
        match response.status() {
            StatusCode::CREATED if from.is_some() => Ok(None),
            StatusCode::ACCEPTED => {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| Error::Status {
                        registry: self.host.clone(),
                        operation: operation.clone(),
                        status: 202,
                        body: "no Location header".into(),
                    })?;
                let url = self.base.join(location).map_err(|e| Error::Status {
                    registry: self.host.clone(),
                    operation,
                    status: 202,
                    body: format!("bad Location: {e}"),
                })?;
                Ok(Some(url))
            }
            _ => Err(self.unexpected(response, &operation).await),
        }
    }

    /// Mounts `digest` from `from` into `repository`; `false` when the registry would not.
    ///
    /// # Errors
    /// A transport or status error.
    pub async fn mount_blob(&self, repository: &str, digest: &str, from: &str) -> Result<bool> {
        Ok(self
            .mount_or_start(repository, digest, Some(from))
            .await?
            .is_none())
    }

    /// Uploads a blob in one streamed request (POST, then PUT with `?digest=`). The registry
    /// checks the digest too.
    ///
    /// # Errors
    /// A transport or status error; [`Error::Status`] 400 when the bytes do not match.
    pub async fn upload_blob(
        &self,
        repository: &str,
        digest: &str,
        size: Option<u64>,
        body: reqwest::Body,
    ) -> Result<()> {
        let operation = format!("upload blob {repository}@{digest}");
        let Some(mut url) = self.mount_or_start(repository, digest, None).await? else {
            return Ok(());
        };
        url.query_pairs_mut().append_pair("digest", digest);
        let mut request = self
            .request(Method::PUT, url)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(body);
        if let Some(size) = size {
            request = request.header(CONTENT_LENGTH, size);
        }
        let response = self.send(request, &operation).await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(self.unexpected(response, &operation).await)
        }
    }
}
