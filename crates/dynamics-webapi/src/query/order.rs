//! `$orderby` items.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use super::render::{Renderer, Result};

/// One `$orderby` item over entity `E`: a column and a direction.
///
/// Made by a column's [`asc`](super::ColumnMethods::asc) or [`desc`](super::ColumnMethods::desc).
///
/// ```
/// use dynamics_webapi::query::{Field, Untyped, prelude::*};
///
/// const NAME: Field<Untyped, String> = Field::new("name");
/// assert_eq!(NAME.asc().to_string(), "name asc");
/// assert_eq!(NAME.desc().to_string(), "name desc");
/// ```
#[must_use]
pub struct OrderBy<E> {
    item: OrderItem,
    marker: PhantomData<fn() -> E>,
}

impl<E> OrderBy<E> {
    pub(crate) fn new(path: Cow<'static, str>, descending: bool) -> Self {
        Self { item: OrderItem { path, descending }, marker: PhantomData }
    }

    pub(crate) fn into_item(self) -> OrderItem {
        self.item
    }
}

impl<E> Clone for OrderBy<E> {
    fn clone(&self) -> Self {
        Self { item: self.item.clone(), marker: PhantomData }
    }
}

impl<E> fmt::Debug for OrderBy<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OrderBy").field(&self.to_string()).finish()
    }
}

impl<E> fmt::Display for OrderBy<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut renderer = Renderer::lenient();
        // A lenient renderer never fails.
        let _ = self.item.render(&mut renderer);
        f.write_str(&renderer.finish())
    }
}

/// A type-erased `$orderby` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderItem {
    path: Cow<'static, str>,
    descending: bool,
}

impl OrderItem {
    fn render(&self, renderer: &mut Renderer) -> Result {
        renderer.path(None, &self.path)?;
        renderer.push(if self.descending { " desc" } else { " asc" });
        Ok(())
    }
}

/// Renders `a asc,b desc`.
pub(crate) fn render_order(items: &[OrderItem], renderer: &mut Renderer) -> Result {
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            renderer.push_char(',');
        }
        item.render(renderer)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{OrderBy, render_order};
    use crate::query::Untyped;
    use crate::query::render::Renderer;

    #[test]
    fn renders_a_comma_separated_list() {
        let items = [
            OrderBy::<Untyped>::new("name".into(), false).into_item(),
            OrderBy::<Untyped>::new("createdon".into(), true).into_item(),
        ];
        let mut renderer = Renderer::strict();
        render_order(&items, &mut renderer).unwrap();
        assert_eq!(renderer.finish(), "name asc,createdon desc");
    }

    #[test]
    fn a_bad_path_is_an_error() {
        let items = [OrderBy::<Untyped>::new("name desc".into(), false).into_item()];
        assert!(render_order(&items, &mut Renderer::strict()).is_err());
    }
}
