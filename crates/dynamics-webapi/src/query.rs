//! The typed OData query builder.
