//! The derive input as Straddle sees it: the struct, its fields and their parsed
//! attributes, with spans. Syntax only; meaning is checked in `check.rs`.

use super::attr::{self, Container, Field};
use super::ctxt::Ctxt;

/// A struct deriving `Model`, parsed.
pub struct Decl<'a> {
    /// The Rust identifier.
    pub ident: &'a syn::Ident,
    /// Its parsed `#[straddle(...)]` attributes.
    pub attrs: Container,
    /// The fields, in order.
    pub fields: Vec<FieldDecl<'a>>,
    /// The struct's attributes had grammar errors (already reported).
    pub malformed: bool,
    /// Keys its mistyped keys most likely meant (`table` for `tabel`).
    pub meant: Vec<String>,
}

/// A field, parsed.
pub struct FieldDecl<'a> {
    /// The Rust identifier.
    pub ident: &'a syn::Ident,
    /// The column's type.
    pub ty: &'a syn::Type,
    /// Its parsed `#[straddle(...)]` attributes.
    pub attrs: Field,
    /// The type's shape, when Straddle understands it.
    pub shape: Option<TypeShape>,
    /// The field's attributes had grammar errors (already reported): its other checks are
    /// skipped, as they would only report what the mistake caused.
    pub malformed: bool,
    /// Keys its mistyped keys most likely meant (`primary_key` for `primary_ky`).
    pub meant: Vec<String>,
}

/// `Option<T>` or `T`, with `T` reduced to the key of [`crate::types::sql_type`].
pub struct TypeShape {
    /// Whether it is `Option<T>`.
    pub nullable: bool,
    /// `T`, reduced to its type key.
    pub key: String,
    /// `T` as written, for messages.
    pub display: String,
}

/// Parse a struct and its attributes (errors into `cx`).
pub fn from_input<'a>(cx: &Ctxt, input: &'a syn::DeriveInput) -> Option<Decl<'a>> {
    let fields = match &input.data {
        syn::Data::Struct(syn::DataStruct {
            fields: syn::Fields::Named(named),
            ..
        }) => &named.named,
        syn::Data::Struct(_) => {
            cx.error_spanned_by(
                &input.ident,
                "straddle::Model needs a struct with named fields, one per column",
            );
            return None;
        }
        syn::Data::Enum(e) => {
            cx.error_spanned_by(
                e.enum_token,
                "straddle::Model needs a struct with named fields, not an enum",
            );
            return None;
        }
        syn::Data::Union(u) => {
            cx.error_spanned_by(
                u.union_token,
                "straddle::Model needs a struct with named fields, not a union",
            );
            return None;
        }
    };
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            "straddle::Model does not support generic structs: a model is one table",
        );
        return None;
    }
    let (before, meant_before) = (cx.error_count(), cx.meant_count());
    let attrs = attr::parse_container(cx, &input.attrs);
    let malformed = cx.error_count() > before;
    let meant = cx.meant_since(meant_before);
    let fields = fields
        .iter()
        .map(|f| {
            let (before, meant_before) = (cx.error_count(), cx.meant_count());
            let attrs = attr::parse_field(cx, &f.attrs);
            FieldDecl {
                ident: f.ident.as_ref().expect("named field"),
                ty: &f.ty,
                attrs,
                shape: type_shape(&f.ty),
                malformed: cx.error_count() > before,
                meant: cx.meant_since(meant_before),
            }
        })
        .collect();
    Some(Decl {
        ident: &input.ident,
        attrs,
        fields,
        malformed,
        meant,
    })
}

pub(super) fn type_shape(ty: &syn::Type) -> Option<TypeShape> {
    let (inner, nullable) = match single_generic(ty, "Option") {
        Some(inner) => (inner, true),
        None => (ty, false),
    };
    if single_generic(inner, "Option").is_some() {
        return None;
    }
    let syn::Type::Path(p) = inner else {
        return None;
    };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    let name = last.ident.to_string();
    let key = match single_generic(inner, "Vec") {
        Some(elem) if is_ident(elem, "u8") => "Vec<u8>".to_string(),
        Some(_) => return None,
        None => name,
    };
    let display = quote::ToTokens::to_token_stream(inner)
        .to_string()
        .replace(' ', "");
    Some(TypeShape {
        nullable,
        key,
        display,
    })
}

fn single_generic<'t>(ty: &'t syn::Type, name: &str) -> Option<&'t syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [syn::GenericArgument::Type(t)] => Some(t),
        _ => None,
    }
}

fn is_ident(ty: &syn::Type, name: &str) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none() && p.path.is_ident(name))
}
