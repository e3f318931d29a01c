//! Binding a model's fields as query arguments.
//!
//! The derive implements [`Fields`]: the struct's fields as a tuple of references, in
//! declaration order (nested in tuples of at most 12, the largest tuple bound here). [`BindFields`] is
//! implemented for every model whose field types the database can encode, and that is
//! checked where a model is written (`Db::insert`, `update`, `delete`), not where it is
//! declared: a crate of 200 models type-checks 200 tuples of references, not 200 sets of
//! `Encode` bounds per database, and a model that is only read costs nothing more.

use sqlx::error::BoxDynError;
use sqlx::{Arguments, Database, Encode, Type};

/// A model's fields, by reference, in declaration order: implemented by the derive.
pub trait Fields {
    /// `(&'a A, &'a B, …)`, or tuples of such tuples for structs of more than 12 fields.
    type Refs<'a>
    where
        Self: 'a;

    /// The fields, by reference.
    fn field_refs(&self) -> Self::Refs<'_>;
}

/// Binds a model's fields as query arguments.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be written to {DB}: a field's type has no `sqlx::Encode` + `sqlx::Type` for it",
    note = "every field of a model written through `Db` must be encodable for the database (the read side needs \
            `sqlx::Decode` likewise)"
)]
pub trait BindFields<DB: Database> {
    /// Bind the value of the field at `index` (in declaration order).
    fn bind_field(&self, index: usize, args: &mut DB::Arguments) -> Result<(), BoxDynError>;
}

impl<DB: Database, M: Fields> BindFields<DB> for M
where
    for<'a> M::Refs<'a>: BindRefs<DB>,
{
    fn bind_field(&self, index: usize, args: &mut DB::Arguments) -> Result<(), BoxDynError> {
        if index >= <M::Refs<'_> as BindRefs<DB>>::LEN {
            return Err(format!("no field #{index}").into());
        }
        self.field_refs().bind_at(index, args)
    }
}

/// A field reference, or a tuple of them, that binds the field at an index.
#[doc(hidden)]
pub trait BindRefs<DB: Database> {
    /// How many fields.
    const LEN: usize;
    /// Bind the field at `index` (`index < LEN`).
    fn bind_at(&self, index: usize, args: &mut DB::Arguments) -> Result<(), BoxDynError>;
}

impl<DB: Database, T> BindRefs<DB> for &T
where
    T: for<'q> Encode<'q, DB> + Type<DB>,
{
    const LEN: usize = 1;
    fn bind_at(&self, _: usize, args: &mut DB::Arguments) -> Result<(), BoxDynError> {
        args.add(*self)
    }
}

impl<DB: Database> BindRefs<DB> for () {
    const LEN: usize = 0;
    fn bind_at(&self, index: usize, _: &mut DB::Arguments) -> Result<(), BoxDynError> {
        Err(format!("no field #{index}").into())
    }
}

macro_rules! tuple_refs {
    ($($name:ident $idx:tt),+) => {
        impl<DB: Database, $($name: BindRefs<DB>),+> BindRefs<DB> for ($($name,)+) {
            const LEN: usize = 0 $(+ $name::LEN)+;
            fn bind_at(&self, index: usize, args: &mut DB::Arguments) -> Result<(), BoxDynError> {
                let mut rest = index;
                $(
                    if rest < $name::LEN {
                        return self.$idx.bind_at(rest, args);
                    }
                    rest -= $name::LEN;
                )+
                let _ = rest;
                Err(format!("no field #{index}").into())
            }
        }
    };
}

tuple_refs!(A 0);
tuple_refs!(A 0, B 1);
tuple_refs!(A 0, B 1, C 2);
tuple_refs!(A 0, B 1, C 2, D 3);
tuple_refs!(A 0, B 1, C 2, D 3, E 4);
tuple_refs!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_refs!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_refs!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_refs!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_refs!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_refs!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_refs!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);
