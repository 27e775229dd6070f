//! Hand-written additions to the generated entities (the generator never touches this file).

#[cfg(feature = "contact")]
impl crate::contact::Contact {
    /// The contact's name: `fullname` when it was selected, else first and last name joined.
    ///
    /// ```
    /// let mut contact = dynamics_entities::contact::Contact::default();
    /// contact.firstname = Some("Yvonne".into());
    /// contact.lastname = Some("McKay".into());
    /// assert_eq!(contact.display_name().as_deref(), Some("Yvonne McKay"));
    /// ```
    pub fn display_name(&self) -> Option<String> {
        if let Some(fullname) = self.fullname.as_deref().filter(|n| !n.is_empty()) {
            return Some(fullname.to_owned());
        }
        let parts: Vec<&str> = [self.firstname.as_deref(), self.lastname.as_deref()].into_iter().flatten().collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}
