"""HTTP side of the proxy: thin connexion handlers routed by openapi.yaml's operationIds."""
