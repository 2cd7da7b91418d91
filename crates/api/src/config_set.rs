//! A cluster spec file as a whole: one Cluster and the objects it refers to.

use serde::Serialize;
use serde_json::Value;

use crate::document::{self, Fields, Split};
use crate::generated::*;
use crate::meta::{ObjectMeta, Resource};

/// The API group every kind of this crate belongs to.
pub const GROUP: &str = "anywhere.eks.amazonaws.com";
/// The API version of every kind of this crate.
pub const API_VERSION: &str = "anywhere.eks.amazonaws.com/v1alpha1";

macro_rules! objects {
    ($($kind:ident),* $(,)?) => {
        /// Any object of the spec other than the Cluster.
        #[derive(Clone, Debug, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Object {
            $(
                #[doc = concat!("A `", stringify!($kind), "`.")]
                $kind($kind),
            )*
        }

        /// Every kind a user may write besides `Cluster`.
        pub const OBJECT_KINDS: &[&str] = &[$(stringify!($kind)),*];

        impl Object {
            /// The object's `kind`.
            pub fn kind(&self) -> &'static str {
                match self { $(Object::$kind(_) => <$kind as Resource>::KIND,)* }
            }
            /// The object's metadata, if any.
            pub fn metadata(&self) -> Option<&ObjectMeta> {
                match self { $(Object::$kind(o) => o.metadata(),)* }
            }
            /// The object's metadata, created if absent.
            pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
                match self { $(Object::$kind(o) => o.metadata_mut(),)* }
            }
            /// The object as a JSON value, exactly as it would be written back.
            pub fn to_value(&self) -> Value {
                match self { $(Object::$kind(o) => serde_json::to_value(o).unwrap_or(Value::Null),)* }
            }
            /// Decodes a document of the given kind; `None` for a kind this crate does not know.
            pub fn decode(kind: &str, value: &Value, fields: Fields) -> Option<Result<Object, document::Error>> {
                match kind {
                    $(stringify!($kind) => Some(document::decode::<$kind>(value, fields).map(Object::$kind)),)*
                    _ => None,
                }
            }
        }

        $(
            impl From<$kind> for Object {
                fn from(o: $kind) -> Object { Object::$kind(o) }
            }
            impl TypedObject for $kind {
                fn from_object(o: &Object) -> Option<&Self> {
                    match o { Object::$kind(x) => Some(x), _ => None }
                }
                fn from_object_mut(o: &mut Object) -> Option<&mut Self> {
                    match o { Object::$kind(x) => Some(x), _ => None }
                }
            }
        )*
    };
}

objects!(
    VSphereDatacenterConfig,
    VSphereMachineConfig,
    TinkerbellDatacenterConfig,
    TinkerbellMachineConfig,
    TinkerbellTemplateConfig,
    CloudStackDatacenterConfig,
    CloudStackMachineConfig,
    NutanixDatacenterConfig,
    NutanixMachineConfig,
    SnowDatacenterConfig,
    SnowMachineConfig,
    SnowIPPool,
    DockerDatacenterConfig,
    AWSDatacenterConfig,
    GitOpsConfig,
    FluxConfig,
    OIDCConfig,
    AWSIamConfig,
);

/// A kind that lives in [`Object`].
pub trait TypedObject: Resource + Sized + 'static {
    /// The inner value when `o` is of this kind.
    fn from_object(o: &Object) -> Option<&Self>;
    /// The inner value when `o` is of this kind, mutably.
    fn from_object_mut(o: &mut Object) -> Option<&mut Self>;
}

impl Object {
    /// `metadata.name`, or `""`.
    pub fn name(&self) -> &str {
        self.metadata().and_then(|m| m.name.as_deref()).unwrap_or("")
    }
    /// `metadata.namespace`, or `""`.
    pub fn namespace(&self) -> &str {
        self.metadata().and_then(|m| m.namespace.as_deref()).unwrap_or("")
    }
}

/// Where an object came from in the file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// 1-based line where the object's document starts.
    pub line: usize,
}

/// One Cluster and every other object of the same file, in file order.
///
/// Reference resolution is by kind and name ([`ConfigSet::get`]); checking that every reference
/// resolves is a validation rule (`validate::references`), so that all dangling references are
/// reported together.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigSet {
    /// The Cluster.
    pub cluster: Cluster,
    /// Where the Cluster came from.
    pub cluster_origin: Origin,
    /// Every other object, in file order.
    pub objects: Vec<(Object, Origin)>,
}

/// A failure to read a spec file into a [`ConfigSet`]. Validation problems are not errors of
/// this kind; they are [`crate::validate::Violation`]s.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The text could not be read as YAML documents.
    #[error(transparent)]
    Document(#[from] document::Error),
    /// A document's fields do not fit its kind.
    #[error("line {line}: {kind} {name:?}: {source}")]
    Object {
        /// First line of the document.
        line: usize,
        /// Its kind.
        kind: String,
        /// Its name, or empty.
        name: String,
        /// The decode failure, with the field path.
        #[source]
        source: document::Error,
    },
    /// A document has no `apiVersion`.
    #[error("line {line}: apiVersion not set for kind {kind:?}")]
    NoApiVersion {
        /// First line of the document.
        line: usize,
        /// Its kind.
        kind: String,
    },
    /// A document has no `kind`.
    #[error("line {line}: document has no kind")]
    NoKind {
        /// First line of the document.
        line: usize,
    },
    /// The file has no Cluster.
    #[error("no document of kind Cluster in {api_version}")]
    NoCluster {
        /// The group/version looked for.
        api_version: &'static str,
    },
    /// More than one Cluster.
    #[error("line {line}: only one Cluster per file is allowed (the first is at line {first_line})")]
    SecondCluster {
        /// Line of the second Cluster.
        line: usize,
        /// Line of the first.
        first_line: usize,
    },
    /// Two objects of one kind share a name.
    #[error("line {line}: {kind} {name:?} is defined twice (first at line {first_line})")]
    Duplicate {
        /// Line of the second definition.
        line: usize,
        /// First line.
        first_line: usize,
        /// Kind.
        kind: String,
        /// Name.
        name: String,
    },
}

impl ParseError {
    /// The field path this error is about, if any.
    pub fn path(&self) -> Option<&str> {
        match self {
            ParseError::Object { source, .. } => source.path(),
            ParseError::Document(e) => e.path(),
            _ => None,
        }
    }
    /// A suggestion for the user.
    pub fn hint(&self) -> Option<String> {
        match self {
            ParseError::Object { source, .. } | ParseError::Document(source) => {
                source.hint().map(str::to_string)
            }
            ParseError::NoApiVersion { .. } => Some(format!("add `apiVersion: {API_VERSION}`")),
            ParseError::NoCluster { .. } => {
                Some("`anywhere generate clusterconfig NAME -p PROVIDER` prints a complete example".into())
            }
            ParseError::Duplicate { .. } => Some("rename one of them, or delete the copy".into()),
            _ => None,
        }
    }
}

/// How strictly to read a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// What the CLI does: strict document separators, unknown fields are errors, a second object
    /// of the same kind and name is an error, documents of other groups are ignored.
    Strict,
    /// The reference's whole-config-set reading used to build manifests: only `---` lines split,
    /// unknown fields are dropped, a later duplicate replaces an earlier one.
    Lenient,
}

/// Reads a whole spec file. Documents whose `apiVersion` is of another group are ignored, as are
/// kinds of this group that a user does not write (Bundles, EKSARelease...).
///
/// Returns the first problem; [`parse_config_set_all`] returns every one.
#[allow(clippy::result_large_err)] // errors are the cold path; keeping the source unboxed keeps matching on it simple
pub fn parse_config_set(text: &str, reading: Reading) -> Result<ConfigSet, ParseError> {
    parse_config_set_all(text, reading).map_err(|mut errors| errors.swap_remove(0))
}

/// Reads a whole spec file like [`parse_config_set`], but on failure reports a problem for every
/// document that has one (documents are independent, so one bad document does not hide the
/// others). The list is never empty.
pub fn parse_config_set_all(text: &str, reading: Reading) -> Result<ConfigSet, Vec<ParseError>> {
    let split = match reading {
        Reading::Strict => Split::Strict,
        Reading::Lenient => Split::Lenient,
    };
    let mut acc = Accumulator {
        reading,
        cluster: None,
        saw_cluster: false,
        objects: Vec::new(),
    };
    let mut errors = Vec::new();
    for doc in document::split_documents(text, split).map_err(|e| vec![e.into()])? {
        if let Err(e) = acc.read(&doc) {
            errors.push(e);
        }
    }
    if !acc.saw_cluster {
        errors.push(ParseError::NoCluster {
            api_version: API_VERSION,
        });
    }
    match (acc.cluster, errors.is_empty()) {
        (Some((cluster, cluster_origin)), true) => Ok(ConfigSet {
            cluster,
            cluster_origin,
            objects: acc.objects,
        }),
        _ => Err(errors),
    }
}

struct Accumulator {
    reading: Reading,
    cluster: Option<(Cluster, Origin)>,
    saw_cluster: bool,
    objects: Vec<(Object, Origin)>,
}

impl Accumulator {
    #[allow(clippy::result_large_err)]
    fn read(&mut self, doc: &document::Document<'_>) -> Result<(), ParseError> {
        let fields = match self.reading {
            Reading::Strict => Fields::Strict,
            Reading::Lenient => Fields::Lenient,
        };
        let value = document::parse_value(&doc.text, doc.line)?;
        let map = document::as_mapping(value, doc.line)?;
        let kind = map.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        if api_version.is_empty() {
            if kind.is_empty() {
                return Err(ParseError::NoKind { line: doc.line });
            }
            return Err(ParseError::NoApiVersion { line: doc.line, kind });
        }
        if api_version.split('/').next() != Some(GROUP) {
            return Ok(());
        }
        let value = Value::Object(map);
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let origin = Origin { line: doc.line };
        let wrap = |source| ParseError::Object {
            line: doc.line,
            kind: kind.clone(),
            name: name.clone(),
            source,
        };
        if kind == "Cluster" {
            if let Some((_, first)) = &self.cluster {
                return Err(ParseError::SecondCluster {
                    line: doc.line,
                    first_line: first.line,
                });
            }
            self.saw_cluster = true;
            let c: Cluster = document::decode(&value, fields).map_err(wrap)?;
            self.cluster = Some((c, origin));
            return Ok(());
        }
        let Some(decoded) = Object::decode(&kind, &value, fields) else {
            return Ok(());
        };
        let object = decoded.map_err(wrap)?;
        let same = |(o, _): &(Object, Origin)| o.kind() == object.kind() && o.name() == object.name();
        match (self.objects.iter().position(same), self.reading) {
            (Some(pos), Reading::Strict) => Err(ParseError::Duplicate {
                line: doc.line,
                first_line: self.objects[pos].1.line,
                kind,
                name,
            }),
            (Some(pos), Reading::Lenient) => {
                self.objects[pos] = (object, origin);
                Ok(())
            }
            (None, _) => {
                self.objects.push((object, origin));
                Ok(())
            }
        }
    }
}

impl ConfigSet {
    /// The object of type `T` named `name`.
    pub fn get<T: TypedObject>(&self, name: &str) -> Option<&T> {
        self.objects
            .iter()
            .filter_map(|(o, _)| T::from_object(o))
            .find(|t| t.name() == name)
    }

    /// The object of type `T` named `name`, mutably.
    pub fn get_mut<T: TypedObject>(&mut self, name: &str) -> Option<&mut T> {
        self.objects
            .iter_mut()
            .filter_map(|(o, _)| T::from_object_mut(o))
            .find(|t| t.name() == name)
    }

    /// Every object of type `T`.
    pub fn all<T: TypedObject>(&self) -> impl Iterator<Item = &T> {
        self.objects.iter().filter_map(|(o, _)| T::from_object(o))
    }

    /// Every object of type `T`, mutably.
    pub fn all_mut<T: TypedObject>(&mut self) -> impl Iterator<Item = &mut T> {
        self.objects.iter_mut().filter_map(|(o, _)| T::from_object_mut(o))
    }

    /// The object of any kind named by a reference (`kind` + `name`).
    pub fn find(&self, kind: &str, name: &str) -> Option<&Object> {
        self.objects
            .iter()
            .map(|(o, _)| o)
            .find(|o| o.kind() == kind && o.name() == name)
    }

    /// Where the object of `kind` and `name` starts in the file (the Cluster too).
    pub fn origin(&self, kind: &str, name: &str) -> Option<&Origin> {
        if kind == "Cluster" && self.cluster.name() == name {
            return Some(&self.cluster_origin);
        }
        self.objects
            .iter()
            .find(|(o, _)| o.kind() == kind && o.name() == name)
            .map(|(_, origin)| origin)
    }

    /// The datacenter kind the Cluster refers to (`spec.datacenterRef.kind`), or `""`.
    pub fn datacenter_kind(&self) -> &str {
        self.cluster
            .spec
            .as_ref()
            .and_then(|s| s.datacenter_ref.as_ref())
            .and_then(|r| r.kind.as_deref())
            .unwrap_or("")
    }

    /// Serialises the whole set back to a multi-document YAML file, Cluster first.
    pub fn to_yaml(&self) -> String {
        let mut docs: Vec<Value> = vec![serde_json::to_value(&self.cluster).unwrap_or(Value::Null)];
        docs.extend(self.objects.iter().map(|(o, _)| o.to_value()));
        crate::yaml::to_string_multi(&docs, crate::yaml::KeyOrder::AsIs)
    }
}
