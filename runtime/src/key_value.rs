//! [`KeyTuple`]: a composite primary key's value, to find a row by it
//! ([`crate::Db::find_by_key`]): a tuple of the key columns' values, in field order.

use sqlx::error::BoxDynError;
use sqlx::{Arguments, Database, Encode, Type};

/// A tuple of a primary key's column values, in the order the model declares its key
/// fields (`(order_id, sku)` for `#[straddle(primary_key)] order_id` then
/// `#[straddle(primary_key)] sku`). A one-column key is a 1-tuple `(id,)` here, or a
/// plain value with [`crate::Db::find`].
pub trait KeyTuple<DB: Database>: Clone + Send {
    /// How many columns the key has.
    const LEN: usize;
    /// Bind the values, in order.
    fn bind(&self, args: &mut DB::Arguments) -> Result<(), BoxDynError>;
}

macro_rules! key_tuples {
    ($len:literal: $($name:ident $idx:tt),+) => {
        impl<DB: Database, $($name),+> KeyTuple<DB> for ($($name,)+)
        where
            $($name: for<'q> Encode<'q, DB> + Type<DB> + Clone + Send,)+
        {
            const LEN: usize = $len;
            fn bind(&self, args: &mut DB::Arguments) -> Result<(), BoxDynError> {
                $(args.add(self.$idx.clone())?;)+
                Ok(())
            }
        }
    };
}

key_tuples!(1: A 0);
key_tuples!(2: A 0, B 1);
key_tuples!(3: A 0, B 1, C 2);
key_tuples!(4: A 0, B 1, C 2, D 3);
