//! The HTTP methods an operation of a batch may use.
//!
//! Two types, so that a `GET` inside a change set cannot be written: [`Method`] for an operation on its own,
//! [`WriteMethod`] for an operation of a change set.

use std::fmt;

/// The method of an [`Operation`](super::Operation) outside any change set: a read or any write.
///
/// ```
/// use dynamics_webapi::batch::Method;
///
/// assert_eq!(Method::Get.as_str(), "GET");
/// assert!(!Method::Get.is_write());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`: retrieve a record, a query page or a function result.
    Get,
    /// `POST`: create a record or call an action.
    Post,
    /// `PATCH`: update or upsert a record.
    Patch,
    /// `PUT`: set a single column value or a single-valued navigation property.
    Put,
    /// `DELETE`: delete a record, a column value or a reference.
    Delete,
}

impl Method {
    /// The method as it is written on the request line.
    ///
    /// ```
    /// use dynamics_webapi::batch::Method;
    ///
    /// assert_eq!(Method::Patch.as_str(), "PATCH");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Patch => "PATCH",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
        }
    }

    /// Whether the method changes data (everything but `GET`).
    ///
    /// ```
    /// use dynamics_webapi::batch::Method;
    ///
    /// assert!(Method::Delete.is_write());
    /// ```
    pub fn is_write(self) -> bool {
        !matches!(self, Self::Get)
    }

    /// Whether sending the operation twice has the effect of sending it once.
    ///
    /// Only `POST` is not: a repeated create makes a second record, a repeated action runs twice.
    ///
    /// ```
    /// use dynamics_webapi::batch::Method;
    ///
    /// assert!(Method::Patch.is_idempotent());
    /// assert!(!Method::Post.is_idempotent());
    /// ```
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Self::Post)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The method of a [`ChangeSetOperation`](super::ChangeSetOperation): writes only, so a change set holds no `GET`.
///
/// ```
/// use dynamics_webapi::batch::{Method, WriteMethod};
///
/// assert_eq!(Method::from(WriteMethod::Put), Method::Put);
/// ```
///
/// There is no `WriteMethod::Get`:
///
/// ```compile_fail,E0599
/// use dynamics_webapi::batch::WriteMethod;
///
/// let _ = WriteMethod::Get;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteMethod {
    /// `POST`: create a record or call an action.
    Post,
    /// `PATCH`: update or upsert a record.
    Patch,
    /// `PUT`: set a single column value or a single-valued navigation property.
    Put,
    /// `DELETE`: delete a record, a column value or a reference.
    Delete,
}

impl WriteMethod {
    /// The method as it is written on the request line.
    ///
    /// ```
    /// use dynamics_webapi::batch::WriteMethod;
    ///
    /// assert_eq!(WriteMethod::Delete.as_str(), "DELETE");
    /// ```
    pub fn as_str(self) -> &'static str {
        Method::from(self).as_str()
    }
}

impl From<WriteMethod> for Method {
    fn from(method: WriteMethod) -> Self {
        match method {
            WriteMethod::Post => Self::Post,
            WriteMethod::Patch => Self::Patch,
            WriteMethod::Put => Self::Put,
            WriteMethod::Delete => Self::Delete,
        }
    }
}

impl fmt::Display for WriteMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::{Method, WriteMethod};

    #[test]
    fn every_write_method_maps_to_a_write() {
        for method in [WriteMethod::Post, WriteMethod::Patch, WriteMethod::Put, WriteMethod::Delete] {
            assert!(Method::from(method).is_write());
            assert_eq!(method.to_string(), Method::from(method).to_string());
        }
    }

    #[test]
    fn only_post_is_not_idempotent() {
        let all = [Method::Get, Method::Post, Method::Patch, Method::Put, Method::Delete];
        let not_idempotent: Vec<_> = all.into_iter().filter(|m| !m.is_idempotent()).collect();
        assert_eq!(not_idempotent, [Method::Post]);
    }
}
