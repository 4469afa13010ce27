//! What a tool is: the dyn-compatible [`Tool`] trait, and [`TypedTool`] for
//! tools whose input is a Rust struct (the schema is derived from it). The
//! data of a call ([`ToolInfo`], [`ToolResponse`]) lives in `protocol`.

use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::context::CallContext;
use crate::error::ToolError;
use crate::protocol::{ToolInfo, ToolResponse};

/// A tool that can run in a [`crate::LocalExecutor`]. Dyn-compatible: the
/// executor holds `Arc<dyn Tool>`.
#[async_trait]
pub trait Tool: Send + Sync + 'static {
    /// Name, description and input schema.
    fn info(&self) -> ToolInfo;

    /// Runs the tool. `input` has already been validated against the schema.
    ///
    /// # Errors
    /// A [`ToolError`] that the executor turns into the matching response.
    async fn call(&self, input: Value, ctx: CallContext) -> Result<ToolResponse, ToolError>;
}

/// A tool whose input is a Rust type: the schema is derived with schemars and
/// the input is deserialized before [`TypedTool::run`] sees it. Register it
/// with [`typed`].
#[async_trait]
pub trait TypedTool: Send + Sync + 'static {
    /// The input; its doc comments become the schema's descriptions.
    type Input: DeserializeOwned + JsonSchema + Send;

    /// The tool's name.
    fn name(&self) -> &str;

    /// The description written for the model.
    fn description(&self) -> &str;

    /// Runs the tool on a deserialized input.
    ///
    /// # Errors
    /// A [`ToolError`] that the executor turns into the matching response.
    async fn run(&self, input: Self::Input, ctx: CallContext) -> Result<ToolResponse, ToolError>;
}

/// Wraps a [`TypedTool`] as a [`Tool`].
pub fn typed<T: TypedTool>(tool: T) -> Arc<dyn Tool> {
    Arc::new(Typed {
        schema: schema_of::<T::Input>(),
        tool,
        input: PhantomData,
    })
}

/// The JSON Schema of `T`, without the `$schema` and `title` keys that model
/// providers do not want in a tool definition.
pub fn schema_of<T: JsonSchema>() -> Value {
    let mut schema = schemars::schema_for!(T).to_value();
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
    }
    schema
}

struct Typed<T: TypedTool> {
    tool: T,
    schema: Value,
    input: PhantomData<fn() -> T::Input>,
}

#[async_trait]
impl<T: TypedTool> Tool for Typed<T> {
    fn info(&self) -> ToolInfo {
        ToolInfo {
            name: self.tool.name().to_owned(),
            description: self.tool.description().to_owned(),
            input_schema: self.schema.clone(),
        }
    }

    async fn call(&self, input: Value, ctx: CallContext) -> Result<ToolResponse, ToolError> {
        let input = serde_json::from_value(input)
            .map_err(|e| ToolError::Failed(format!("invalid input: {e}")))?;
        self.tool.run(input, ctx).await
    }
}
