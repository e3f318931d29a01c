//! A model's fields to and from the database: binding them as query arguments, and
//! decoding them from a row.
//!
//! The derive states each direction as one bound on a tuple of the field types, in
//! declaration order (nested in tuples of at most 12, the largest implemented here):
//! - writing: it implements [`Fields`] (the fields as a tuple of references), and
//!   [`BindFields`] holds for every model whose field types the database can encode;
//! - reading: its `sqlx::FromRow` impl requires `(Col<A>, Col<B>, …): DecodeFields`.
//!
//! Whether each field type encodes and decodes for a database is then checked where a
//! model is written or read, not where it is declared: a crate of 200 models type-checks
//! one bound per impl instead of two per field (as `#[derive(sqlx::FromRow)]` does),
//! and a model that is only read costs nothing for writing.

use sqlx::error::BoxDynError;
use sqlx::{Arguments, ColumnIndex, Database, Decode, Encode, Row, Type};

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
    message = "`{Self}` cannot be written to {DB}",
    note = "a model written through `Db` is a `#[derive(straddle::Model)]` struct whose every field type implements \
            `sqlx::Encode` and `sqlx::Type` for the database"
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

/// One field's value, decoded from its column: the leaves of a model's
/// [`DecodeFields`] tuple (a newtype, so a field whose type is itself a tuple is not
/// taken for a group of fields).
#[doc(hidden)]
pub struct Col<T>(pub T);

/// A model's field types, decoded from a row by column name: implemented for `Col<T>`
/// and tuples of them.
#[diagnostic::on_unimplemented(
    message = "a field of this model cannot be read from a row of this database",
    label = "the field types, in declaration order",
    note = "every field type of a model read through `Db` or `sqlx::FromRow` must implement `sqlx::Decode` and \
            `sqlx::Type` for the database"
)]
#[doc(hidden)]
pub trait DecodeFields<'r, R: Row>: Sized {
    /// How many fields.
    const LEN: usize;
    /// Decode from the columns named `names` (the first `LEN` of them).
    fn decode(row: &'r R, names: &[&'r str]) -> Result<Self, sqlx::Error>;
}

impl<'r, R: Row, T> DecodeFields<'r, R> for Col<T>
where
    &'r str: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    const LEN: usize = 1;
    fn decode(row: &'r R, names: &[&'r str]) -> Result<Self, sqlx::Error> {
        row.try_get(names[0]).map(Col)
    }
}

/// `BindRefs` and `DecodeFields` for a tuple: each element in turn, at its offset.
macro_rules! tuple_impls {
    ($($name:ident $idx:tt),+) => {
        impl<DB: Database, $($name: BindRefs<DB>),+> BindRefs<DB> for ($($name,)+) {
            const LEN: usize = 0 $(+ $name::LEN)+;
            #[allow(unused_assignments)]
            fn bind_at(&self, index: usize, args: &mut DB::Arguments) -> Result<(), BoxDynError> {
                let mut rest = index;
                $(
                    if rest < $name::LEN {
                        return self.$idx.bind_at(rest, args);
                    }
                    rest -= $name::LEN;
                )+
                Err(format!("no field #{index}").into())
            }
        }

        impl<'r, R: Row, $($name: DecodeFields<'r, R>),+> DecodeFields<'r, R> for ($($name,)+) {
            const LEN: usize = 0 $(+ $name::LEN)+;
            #[allow(unused_assignments)]
            fn decode(row: &'r R, names: &[&'r str]) -> Result<Self, sqlx::Error> {
                let mut at = 0;
                Ok(($(
                    {
                        let value = $name::decode(row, &names[at..])?;
                        at += $name::LEN;
                        value
                    },
                )+))
            }
        }
    };
}

// Up to 12 elements: the derive's `GROUP` (macros/src/lib.rs) nests larger structs.
tuple_impls!(A 0);
tuple_impls!(A 0, B 1);
tuple_impls!(A 0, B 1, C 2);
tuple_impls!(A 0, B 1, C 2, D 3);
tuple_impls!(A 0, B 1, C 2, D 3, E 4);
tuple_impls!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_impls!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_impls!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_impls!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_impls!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_impls!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_impls!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);
