"""The staff's side of a member: finding them (search), their whole story on one page, staff
notes, and acting for them on their own pages (``portal.acting``)."""
