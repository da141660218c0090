//! `choice_enum!`: a setting that takes one of a few words (`"sgd"`,
//! `"adam"`, …) declared once — the enum, its words for files and CSV cells,
//! parsing, printing and serde all follow from the one list.

/// Declares an enum whose variants are written as the given words, with
/// `Display`, `FromStr`, serde (as the words), `WORDS` (every word in
/// declaration order) and `ALL` (every value).
macro_rules! choice_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[doc = $doc:literal])* $variant:ident = $word:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $( $(#[doc = $doc])* #[serde(rename = $word)] $variant, )+
        }

        impl $name {
            /// Every word, in declaration order.
            pub const WORDS: &'static [&'static str] = &[$($word),+];

            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word this value is written as.
            pub fn word(self) -> &'static str {
                match self { $( $name::$variant => $word, )+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.word())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<$name, String> {
                match text {
                    $( $word => Ok($name::$variant), )+
                    _ => Err(format!("unknown value {text:?}")),
                }
            }
        }
    };
}

pub(crate) use choice_enum;
