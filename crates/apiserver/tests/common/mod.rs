//! Shared test wiring: a server on 127.0.0.1:0 and a kube client for it.
#![allow(dead_code)]

use anywhere_apiserver::{Server, Store, serve_local};

/// A small namespaced CRD with a status subresource, keyed conditions and a printer column.
pub const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, shortNames: [wg]}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer}
                color: {type: string}
            status:
              type: object
              properties:
                observedGeneration: {type: integer}
                phase: {type: string}
                conditions:
                  type: array
                  x-kubernetes-list-type: map
                  x-kubernetes-list-map-keys: [type]
                  items:
                    type: object
                    properties:
                      type: {type: string}
                      status: {type: string}
    - name: v1beta1
      served: true
      storage: false
      subresources: {status: {}}
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

/// Starts a server over `store` and returns it with a client.
pub async fn start_with(store: Store) -> (Server, kube::Client) {
    let server = serve_local(store).await.expect("bind 127.0.0.1:0");
    let config = kube::Config::new(server.url().parse().expect("valid url"));
    let client = kube::Client::try_from(config).expect("client from config");
    (server, client)
}

/// Starts a server over a fresh in-memory store with the Widget CRD.
pub async fn start() -> (Server, kube::Client, Store) {
    let store = Store::in_memory();
    store.register_crd_yaml(WIDGET_CRD).expect("widget crd registers");
    let (server, client) = start_with(store.clone()).await;
    (server, client, store)
}
