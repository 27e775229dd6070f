//! What `$select` (and `groupby`) accepts: one column, several, or raw names.

use std::borrow::Cow;

use super::Column;
use super::render::{Renderer, Result};

/// One or more columns of entity `E` for `$select`.
///
/// Implemented for any [`Column`] of `E`, for tuples of up to eight selections
/// (so columns of different value types mix), for arrays and `Vec`s of selections,
/// and for `&str` and `String` (raw names, checked when the query renders).
///
/// ```
/// use dynamics_webapi::query::{Field, Lookup, Query, Untyped};
///
/// const NAME: Field<Untyped, String> = Field::new("name");
/// const EMPLOYEES: Field<Untyped, Option<i32>> = Field::new("numberofemployees");
/// const PARENT: Lookup<Untyped> = Lookup::new("parentaccountid");
///
/// let query = Query::untyped("accounts").select((NAME, EMPLOYEES, PARENT)).select(["revenue"]);
/// assert_eq!(
///     query.to_string(),
///     "$select=name,numberofemployees,_parentaccountid_value,revenue",
/// );
/// ```
pub trait Selection<E> {
    /// Appends the selected property paths to `paths`.
    fn add_to(self, paths: &mut Vec<Cow<'static, str>>);
}

impl<C: Column> Selection<C::Entity> for C {
    fn add_to(self, paths: &mut Vec<Cow<'static, str>>) {
        paths.push(self.path());
    }
}

impl<E> Selection<E> for &str {
    fn add_to(self, paths: &mut Vec<Cow<'static, str>>) {
        paths.push(Cow::Owned(self.to_owned()));
    }
}

impl<E> Selection<E> for String {
    fn add_to(self, paths: &mut Vec<Cow<'static, str>>) {
        paths.push(Cow::Owned(self));
    }
}

impl<E, S: Selection<E>, const N: usize> Selection<E> for [S; N] {
    fn add_to(self, paths: &mut Vec<Cow<'static, str>>) {
        for selection in self {
            selection.add_to(paths);
        }
    }
}

impl<E, S: Selection<E>> Selection<E> for Vec<S> {
    fn add_to(self, paths: &mut Vec<Cow<'static, str>>) {
        for selection in self {
            selection.add_to(paths);
        }
    }
}

macro_rules! tuple_selection {
    ($($name:ident),+) => {
        impl<E, $($name: Selection<E>),+> Selection<E> for ($($name,)+) {
            #[allow(non_snake_case)]
            fn add_to(self, paths: &mut Vec<Cow<'static, str>>) {
                let ($($name,)+) = self;
                $($name.add_to(paths);)+
            }
        }
    };
}

tuple_selection!(A);
tuple_selection!(A, B);
tuple_selection!(A, B, C);
tuple_selection!(A, B, C, D);
tuple_selection!(A, B, C, D, F);
tuple_selection!(A, B, C, D, F, G);
tuple_selection!(A, B, C, D, F, G, H);
tuple_selection!(A, B, C, D, F, G, H, I);

/// Renders `a,b,c`, checking each path.
pub(crate) fn render_paths(paths: &[Cow<'static, str>], renderer: &mut Renderer) -> Result {
    for (index, path) in paths.iter().enumerate() {
        if index > 0 {
            renderer.push_char(',');
        }
        renderer.path(None, path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Selection, render_paths};
    use crate::query::render::Renderer;
    use crate::query::{Field, Untyped};

    const NAME: Field<Untyped, String> = Field::new("name");
    const AGE: Field<Untyped, i32> = Field::new("age");

    fn paths(selection: impl Selection<Untyped>) -> Vec<String> {
        let mut paths = Vec::new();
        selection.add_to(&mut paths);
        paths.into_iter().map(String::from).collect()
    }

    #[test]
    fn collects_paths_from_each_kind_of_selection() {
        assert_eq!(paths(NAME), ["name"]);
        assert_eq!(paths((NAME, AGE)), ["name", "age"]);
        assert_eq!(paths([NAME, NAME]), ["name", "name"]);
        assert_eq!(paths(vec!["a", "b"]), ["a", "b"]);
        assert_eq!(paths((NAME, String::from("x"), ["y"])), ["name", "x", "y"]);
    }

    #[test]
    fn renders_and_checks_the_list() {
        let mut renderer = Renderer::strict();
        render_paths(&["a".into(), "b/c".into()], &mut renderer).unwrap();
        assert_eq!(renderer.finish(), "a,b/c");
        assert!(render_paths(&["a,b".into()], &mut Renderer::strict()).is_err());
    }
}
