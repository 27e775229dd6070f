//! The connection settings of a run: flags over the selected profile over the environment.

use std::fmt;
use std::path::Path;

use aad_auth::env as vars;
use aad_auth::{
    ClientCredentialsProvider, ClientCredentialsProviderBuilder, ExposeSecret, SecretString, TokenEndpoint,
};

use crate::args::{Endpoint, GlobalArgs};
use crate::error::{Error, Result};
use crate::io::Io;
use crate::settings::env::{DATAVERSE_URL, DYNAMICS_PROFILE, DYNAMICS_TOKEN_ENDPOINT, Env};
use crate::settings::profile::{self, Profile};

/// A setting's value and where it came from (for messages: "--url", "AZURE_TENANT_ID", "profile dev").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    pub(crate) value: String,
    pub(crate) origin: String,
}

/// The client secret and where it came from; its `Debug` is redacted.
pub(crate) struct Secret {
    pub(crate) value: SecretString,
    pub(crate) origin: String,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret").field("origin", &self.origin).finish_non_exhaustive()
    }
}

/// Everything needed to connect.
#[derive(Debug, Default)]
pub(crate) struct Settings {
    pub(crate) url: Option<Setting>,
    pub(crate) tenant: Option<Setting>,
    pub(crate) client_id: Option<Setting>,
    pub(crate) secret: Option<Secret>,
    pub(crate) certificate_path: Option<Setting>,
    pub(crate) federated_token_file: Option<Setting>,
    pub(crate) authority_host: Option<Setting>,
    /// The token endpoint (`--endpoint`, `token_endpoint`, `DYNAMICS_TOKEN_ENDPOINT`; default v2).
    pub(crate) endpoint: TokenEndpoint,
    /// Where the endpoint was chosen, when it was.
    pub(crate) endpoint_origin: Option<String>,
    /// `--retries`.
    pub(crate) retries: Option<u32>,
    /// Variables passed through to aad-auth as they are (certificate password, chain flag); `Debug` redacts them.
    passthrough: Vec<(&'static str, SecretString)>,
}

impl Settings {
    /// Resolves the settings: a flag wins over the selected profile, which wins over the environment.
    pub(crate) fn resolve(global: &GlobalArgs, env: &Env, io: &mut Io) -> Result<Self> {
        if global.client_secret_refused.is_some() {
            return Err(Error::usage_with_hint(
                "--client-secret is not accepted: a secret on the command line shows in shell history and process lists",
                "set AZURE_CLIENT_SECRET, or use --client-secret-file FILE or --client-secret-stdin",
            ));
        }
        let profile_name = global.profile.clone().or_else(|| env.get(DYNAMICS_PROFILE).map(str::to_owned));
        let (profile, profile_origin) = match &profile_name {
            Some(name) => {
                let (profile, path) = profile::load(env, name)?;
                (profile, format!("profile `{name}` ({})", path.display()))
            }
            None => (Profile::default(), String::new()),
        };
        let pick = |flag: &Option<String>, flag_name: &str, from_profile: &Option<String>, variable: &str| {
            if let Some(value) = flag.as_deref().filter(|v| !v.trim().is_empty()) {
                return Some(Setting { value: value.trim().to_owned(), origin: flag_name.to_owned() });
            }
            if let Some(value) = from_profile.as_deref().filter(|v| !v.trim().is_empty()) {
                return Some(Setting { value: value.trim().to_owned(), origin: profile_origin.clone() });
            }
            env.get(variable).map(|value| Setting { value: value.trim().to_owned(), origin: variable.to_owned() })
        };
        let url = pick(&global.url, "--url", &profile.url, DATAVERSE_URL);
        let tenant = pick(&global.tenant, "--tenant", &profile.tenant, vars::TENANT_ID);
        let client_id = pick(&global.client_id, "--client-id", &profile.client_id, vars::CLIENT_ID);
        let certificate_path = pick(&None, "", &profile.client_certificate_path, vars::CLIENT_CERTIFICATE_PATH);
        let authority_host = pick(&None, "", &profile.authority_host, vars::AUTHORITY_HOST);
        let federated_token_file = pick(&None, "", &None, vars::FEDERATED_TOKEN_FILE);
        let flag_endpoint = global.endpoint.map(|endpoint| match endpoint {
            Endpoint::V1 => "v1".to_owned(),
            Endpoint::V2 => "v2".to_owned(),
        });
        let (endpoint, endpoint_origin) =
            match pick(&flag_endpoint, "--endpoint", &profile.token_endpoint, DYNAMICS_TOKEN_ENDPOINT) {
                Some(setting) => (parse_endpoint(&setting)?, Some(setting.origin)),
                None => (TokenEndpoint::V2, None),
            };
        let secret = if global.client_secret_stdin {
            if global.client_secret_file.is_some() {
                return Err(Error::usage("give one of --client-secret-file and --client-secret-stdin, not both"));
            }
            let bytes = io.read_stdin("the client secret")?;
            Some(secret_from_bytes(bytes, "--client-secret-stdin")?)
        } else if let Some(path) = &global.client_secret_file {
            Some(secret_from_file(path, "--client-secret-file")?)
        } else if let Some(path) = &profile.client_secret_file {
            Some(secret_from_file(path, &format!("client_secret_file of {profile_origin}"))?)
        } else {
            env.get(vars::CLIENT_SECRET).map(|value| Secret {
                value: SecretString::from(value.trim().to_owned()),
                origin: vars::CLIENT_SECRET.to_owned(),
            })
        };
        let passthrough = [vars::CLIENT_CERTIFICATE_PASSWORD, vars::CLIENT_SEND_CERTIFICATE_CHAIN]
            .into_iter()
            .filter_map(|name| env.get(name).map(|value| (name, SecretString::from(value.to_owned()))))
            .collect();
        Ok(Self {
            url,
            tenant,
            client_id,
            secret,
            certificate_path,
            federated_token_file,
            authority_host,
            endpoint,
            endpoint_origin,
            retries: global.retries,
            passthrough,
        })
    }

    /// The org URL, or the error that says how to give it.
    pub(crate) fn require_url(&self) -> Result<&Setting> {
        self.url.as_ref().ok_or_else(|| {
            Error::usage_with_hint(
                "no org URL is configured",
                "set DATAVERSE_URL or pass --url https://<org>.crm.dynamics.com (or run `dynamics demo` to try it locally)",
            )
        })
    }

    /// A client-credentials provider builder from these settings, as aad-auth reads the environment.
    pub(crate) fn provider_builder(&self) -> Result<ClientCredentialsProviderBuilder> {
        let lookup = |name: &str| -> Option<String> {
            let setting = |s: &Option<Setting>| s.as_ref().map(|s| s.value.clone());
            match name {
                vars::TENANT_ID => setting(&self.tenant),
                vars::CLIENT_ID => setting(&self.client_id),
                vars::CLIENT_SECRET => self.secret.as_ref().map(|s| s.value.expose_secret().to_owned()),
                vars::CLIENT_CERTIFICATE_PATH => setting(&self.certificate_path),
                vars::FEDERATED_TOKEN_FILE => setting(&self.federated_token_file),
                vars::AUTHORITY_HOST => setting(&self.authority_host),
                other => self.passthrough.iter().find(|(n, _)| *n == other).map(|(_, v)| v.expose_secret().to_owned()),
            }
        };
        let endpoint = self.endpoint;
        ClientCredentialsProviderBuilder::from_lookup(lookup).map(|builder| builder.endpoint(endpoint)).map_err(
            |error| match &error {
                aad_auth::Error::Config(config) => Error::usage_with_hint(
                    config.to_string(),
                    "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or --tenant, --client-id, \
                 --client-secret-file), or use --profile; `dynamics doctor` checks each step",
                ),
                _ => Error::Auth(error),
            },
        )
    }

    /// The provider.
    pub(crate) fn provider(&self) -> Result<ClientCredentialsProvider> {
        Ok(self.provider_builder()?.build()?)
    }
}

/// The token endpoint a setting names: `v1` or `v2` (also `1`, `2`, `v1.0`, `v2.0`).
fn parse_endpoint(setting: &Setting) -> Result<TokenEndpoint> {
    match setting.value.to_ascii_lowercase().trim_start_matches('v') {
        "1" | "1.0" => Ok(TokenEndpoint::V1),
        "2" | "2.0" => Ok(TokenEndpoint::V2),
        _ => Err(Error::usage_with_hint(
            format!("the token endpoint `{}` ({}) is neither v1 nor v2", setting.value, setting.origin),
            "give v2 (scope <org>/.default, the default) or v1 (resource <org>)",
        )),
    }
}

/// How a token endpoint asks for the org: `v2 endpoint, scope <org>/.default` or `v1 endpoint, resource <org>`.
pub(crate) fn describe_endpoint(endpoint: TokenEndpoint, org: &str) -> String {
    match endpoint {
        TokenEndpoint::V1 => format!("v1 endpoint, resource {org}"),
        _ => format!("v2 endpoint, scope {org}/.default"),
    }
}

fn secret_from_file(path: &Path, origin: &str) -> Result<Secret> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::io(format!("the client secret file {} cannot be read ({origin})", path.display()), e))?;
    secret_from_bytes(bytes, origin)
}

fn secret_from_bytes(bytes: Vec<u8>, origin: &str) -> Result<Secret> {
    let text =
        String::from_utf8(bytes).map_err(|_| Error::input(format!("the client secret ({origin}) is not text")))?;
    let value = text.trim();
    if value.is_empty() {
        return Err(Error::input(format!("the client secret ({origin}) is empty")));
    }
    Ok(Secret { value: SecretString::from(value.to_owned()), origin: origin.to_owned() })
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::args::Cli;

    fn resolve(args: &[&str], env: &Env, stdin: &str) -> Result<Settings> {
        let cli = Cli::try_parse_from([&["dynamics"], args, &["whoami"]].concat()).unwrap();
        let (mut io, _) = Io::captured(stdin);
        Settings::resolve(&cli.global, env, &mut io)
    }

    #[test]
    fn a_flag_beats_the_profile_which_beats_the_environment() {
        let dir = std::env::temp_dir().join(format!("dynamics-cli-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            "[profiles.dev]\nurl = \"https://dev.crm.dynamics.com\"\ntenant = \"dev.onmicrosoft.com\"\n",
        )
        .unwrap();
        let env = Env::new()
            .with(crate::settings::env::DYNAMICS_CONFIG, config.display().to_string())
            .with(DATAVERSE_URL, "https://env.crm.dynamics.com")
            .with(vars::TENANT_ID, "env.onmicrosoft.com")
            .with(vars::CLIENT_ID, "11111111-2222-3333-4444-555555555555")
            .with(vars::CLIENT_SECRET, "env-secret");

        let plain = resolve(&[], &env, "").unwrap();
        assert_eq!(plain.url.as_ref().unwrap().value, "https://env.crm.dynamics.com");
        assert_eq!(plain.url.as_ref().unwrap().origin, "DATAVERSE_URL");

        let profiled = resolve(&["--profile", "dev"], &env, "").unwrap();
        assert_eq!(profiled.url.as_ref().unwrap().value, "https://dev.crm.dynamics.com");
        assert!(profiled.tenant.as_ref().unwrap().origin.starts_with("profile `dev`"));
        assert_eq!(
            profiled.client_id.as_ref().unwrap().origin,
            vars::CLIENT_ID,
            "what the profile lacks comes from the environment"
        );

        let flagged = resolve(&["--profile", "dev", "--url", "https://flag.crm.dynamics.com"], &env, "").unwrap();
        assert_eq!(flagged.url.as_ref().unwrap().origin, "--url");

        let from_stdin = resolve(&["--client-secret-stdin"], &env, "stdin-secret\n").unwrap();
        let secret = from_stdin.secret.unwrap();
        assert_eq!(secret.value.expose_secret(), "stdin-secret");
        assert_eq!(secret.origin, "--client-secret-stdin");
        assert!(!format!("{secret:?}").contains("stdin-secret"), "Debug is redacted");
        assert!(resolve(&["--client-secret-stdin"], &env, "\n").is_err(), "an empty secret is refused");

        assert_eq!(plain.endpoint, TokenEndpoint::V2, "v2 unless asked");
        let v1 = env.clone().with(DYNAMICS_TOKEN_ENDPOINT, "V1");
        let from_env = resolve(&[], &v1, "").unwrap();
        assert_eq!(
            (from_env.endpoint, from_env.endpoint_origin.as_deref()),
            (TokenEndpoint::V1, Some("DYNAMICS_TOKEN_ENDPOINT"))
        );
        let flagged = resolve(&["--endpoint", "v2"], &v1, "").unwrap();
        assert_eq!((flagged.endpoint, flagged.endpoint_origin.as_deref()), (TokenEndpoint::V2, Some("--endpoint")));
        let bad = resolve(&[], &env.clone().with(DYNAMICS_TOKEN_ENDPOINT, "v3"), "").unwrap_err();
        assert!(bad.to_string().contains("neither v1 nor v2"), "{bad}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_never_shows_the_secret_or_the_certificate_password() {
        let env = Env::new()
            .with(vars::CLIENT_SECRET, "env-secret-value")
            .with(vars::CLIENT_CERTIFICATE_PASSWORD, "pfx-password-value");
        let settings = resolve(&[], &env, "").unwrap();
        let debug = format!("{settings:?}");
        assert!(!debug.contains("env-secret-value") && !debug.contains("pfx-password-value"), "{debug}");
        assert!(debug.contains("AZURE_CLIENT_CERTIFICATE_PASSWORD"), "the name is shown: {debug}");

        // The password still reaches aad-auth: the fixture PKCS#12 file opens only with it.
        let pfx = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/aad/certificates/app.pfx");
        let env = |password: &str| {
            Env::new()
                .with(vars::TENANT_ID, "contoso.onmicrosoft.com")
                .with(vars::CLIENT_ID, "11111111-2222-3333-4444-555555555555")
                .with(vars::CLIENT_CERTIFICATE_PATH, pfx)
                .with(vars::CLIENT_CERTIFICATE_PASSWORD, password)
        };
        assert!(resolve(&[], &env("fixture-password"), "").unwrap().provider_builder().is_ok());
        assert!(resolve(&[], &env("wrong-password"), "").unwrap().provider_builder().is_err());
    }
}
