"""Route handlers: the operationId targets of openapi.yaml (resolved relative to this
package), one module per resource. Thin: request -> bridge call -> response."""
