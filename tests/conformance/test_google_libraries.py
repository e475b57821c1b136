"""Google's own Python libraries run the seed's server-side flow against the emulator.

The seed (Google's "Enable server-side API access" page) has the server exchange an iOS app's
serverAuthCode with oauth2client, call Drive's appDataFolder with googleapiclient and read the
profile from the ID token. Here the same library calls run unmodified against
`tokendesk emulator`; only base URLs differ. If these pass, the emulator speaks Google's protocol
as Google's libraries expect it, so TokenDesk's tests against the emulator mean something.
"""

import io
import json

import google.auth.exceptions
import google.auth.transport.requests
import google.oauth2.id_token
import httplib2
import jwt
import pytest
import requests
from googleapiclient import discovery, discovery_cache
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseUpload
from oauth2client import client

DRIVE_APPDATA = "https://www.googleapis.com/auth/drive.appdata"
SEED_SCOPES = [DRIVE_APPDATA, "profile", "email"]
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
CERTS_JWK = "/oauth2/v3/certs"
CERTS_PEM = "/oauth2/v1/certs"


def exchange(emulator, code, redirect_uri=""):
    """The seed's Python sample, verbatim but for the file path and the iOS redirect_uri ''."""
    return client.credentials_from_clientsecrets_and_code(
        str(emulator.client_secret_path), SEED_SCOPES, code, redirect_uri=redirect_uri
    )


def build_drive(emulator, http):
    """Drive v3 from the discovery document googleapiclient ships, API calls at the emulator."""
    return discovery.build(
        "drive",
        "v3",
        http=http,
        static_discovery=True,
        client_options={"api_endpoint": emulator.base + "/drive/v3/"},
    )


def build_drive_for_uploads(emulator, http):
    """Drive v3 whose upload URL is at the emulator too.

    client_options.api_endpoint does not move uploads to a plain-HTTP origin: googleapiclient
    makes the upload URL from the document's rootUrl and then swaps only the host
    (discovery._fix_up_media_path_base_url), keeping https://. So this changes rootUrl in the
    shipped document itself, the one base URL that both API calls and uploads derive from.
    """
    document = json.loads(discovery_cache.get_static_doc("drive", "v3"))
    document["rootUrl"] = emulator.base + "/"
    return discovery.build_from_document(document, http=http)


class BearerHttp(httplib2.Http):
    """An Http that sends one fixed access token and never refreshes it.

    credentials.authorize() refreshes silently on a 401, which would hide whether the token
    itself is accepted; this one shows Drive's own answer to exactly this token.
    """

    def __init__(self, access_token):
        super().__init__()
        self._authorization = f"Bearer {access_token}"

    def request(self, uri, method="GET", body=None, headers=None, *args, **kwargs):
        headers = dict(headers or {})
        headers["authorization"] = self._authorization
        return super().request(uri, method, body, headers, *args, **kwargs)


def refused(error_type, why, call, *args, **kwargs):
    """Calls call(*args, **kwargs), which must raise error_type; if it succeeds, fails with why."""
    try:
        call(*args, **kwargs)
    except error_type as error:
        return error
    pytest.fail(f"{why}; but the call succeeded")


def raw_id_token(credentials):
    id_token = credentials.token_response.get("id_token")
    assert id_token, (
        "the token response must carry an id_token: the seed reads the user's profile from it"
    )
    return id_token


def verify(emulator, id_token, certs_path, audience=None):
    return google.oauth2.id_token.verify_token(
        id_token,
        google.auth.transport.requests.Request(),
        audience=audience or emulator.web_client_id,
        certs_url=emulator.base + certs_path,
    )


@pytest.fixture
def signed_in(emulator):
    """A fresh user signed in on iOS, their serverAuthCode exchanged by the seed's code."""
    minted = emulator.mint_code()
    return minted, exchange(emulator, minted.code)


# --- oauth2client: the code exchange -------------------------------------------------------


def test_seed_sample_exchanges_server_auth_code_for_tokens(emulator, signed_in):
    minted, credentials = signed_in
    assert credentials.access_token, (
        "the exchange must yield an access token: it is what the server calls Drive with"
    )
    assert credentials.refresh_token, (
        "an offline serverAuthCode exchange must yield a refresh token: without it the server "
        "loses access when the access token expires, the whole point of the seed's flow"
    )
    assert credentials.id_token["sub"] == minted.sub, (
        "the ID token's sub must be the user the code was minted for: the seed keys users on it"
    )
    assert credentials.id_token["email"] == minted.email, (
        "the ID token's email must be the signed-in user's: the seed reads it with the profile"
    )
    assert credentials.id_token.get("email_verified") is True, (
        "Google sends email_verified as a JSON boolean; a string 'true' breaks strict readers"
    )
    assert credentials.id_token.get("name") == minted.name, (
        "a code exchange with the profile scope carries the user's name in the ID token"
    )
    assert credentials.id_token_jwt == raw_id_token(credentials), (
        "oauth2client must have decoded the very id_token string of the token response"
    )
    granted = credentials.token_response.get("scope", "").split()
    assert DRIVE_APPDATA in granted, (
        f"the grant must include drive.appdata or the seed's Drive call is refused; got {granted}"
    )
    with open(emulator.client_secret_path) as file:
        web = json.load(file)["web"]
    assert web["client_id"] == emulator.web_client_id, (
        "client_secret.json must describe the web (server) client the ID tokens are issued to"
    )


def test_a_code_is_exchanged_once(emulator):
    minted = emulator.mint_code("reused")
    exchange(emulator, minted.code)
    error = refused(
        client.FlowExchangeError,
        "a serverAuthCode is one-time: a second exchange must be refused",
        exchange,
        emulator,
        minted.code,
    )
    assert str(error).startswith("invalid_grant"), (
        "Google answers a used code with invalid_grant, which TokenDesk must never retry; "
        f"oauth2client reported {str(error)!r}"
    )


def test_postmessage_redirect_is_refused_for_an_ios_code(emulator):
    minted = emulator.mint_code("postmessage")
    error = refused(
        client.FlowExchangeError,
        "an iOS serverAuthCode is exchanged with redirect_uri '' ('postmessage' is for web codes)",
        exchange,
        emulator,
        minted.code,
        redirect_uri="postmessage",
    )
    assert str(error).startswith("redirect_uri_mismatch"), (
        "Google answers the wrong redirect_uri with redirect_uri_mismatch, the error TokenDesk "
        f"must explain; oauth2client reported {str(error)!r}"
    )


# --- googleapiclient: Drive appDataFolder ---------------------------------------------------


def test_seed_sample_reads_the_appfolder(emulator, signed_in):
    _, credentials = signed_in
    token = credentials.access_token
    drive = build_drive(emulator, credentials.authorize(httplib2.Http()))
    appfolder = drive.files().get(fileId="appfolder").execute()
    assert appfolder.get("id"), "files.get of the appfolder alias must answer the folder's id"
    assert appfolder.get("mimeType") == "application/vnd.google-apps.folder", (
        "the appDataFolder is a Drive folder (default fields: kind, id, name, mimeType); "
        f"got {appfolder}"
    )
    assert credentials.access_token == token, (
        "the exchanged access token itself must be accepted: a 401 would have made oauth2client "
        "refresh silently and hidden it"
    )


def test_multipart_upload_to_appdatafolder_is_listed(emulator, signed_in):
    _, credentials = signed_in
    token = credentials.access_token
    http = credentials.authorize(httplib2.Http())
    content = b"level=3\nscore=42\n"  # line breaks inside the file must survive the multipart

    upload = build_drive_for_uploads(emulator, http).files().create(
        body={"name": "settings.txt", "parents": ["appDataFolder"]},
        media_body=MediaIoBaseUpload(
            io.BytesIO(content), mimetype="application/octet-stream", resumable=False
        ),
        fields="id, name, size",
    )
    assert upload.uri.startswith(emulator.base + "/upload/drive/v3/files?"), (
        f"the upload must go to the emulator's /upload/drive/v3/files; it goes to {upload.uri}"
    )
    assert "uploadType=multipart" in upload.uri and b"\r\n" not in upload.body, (
        "this must exercise googleapiclient's multipart body with bare \\n line endings, the "
        "form the emulator promises to parse"
    )
    created = upload.execute()
    assert created.get("id"), f"a created file must have an id; got {created}"
    assert created.get("name") == "settings.txt", f"the metadata part names the file; got {created}"
    assert created.get("size") == str(len(content)), (
        "the stored size must be the media part's exact length (Drive sends int64 as a string); "
        f"a different size means the multipart body was cut wrongly; got {created}"
    )

    drive = build_drive(emulator, http)
    request = drive.files().list(
        spaces="appDataFolder", fields="nextPageToken, files(id, name, size)"
    )
    listed = []
    while request is not None and len(listed) < 10_000:
        page = request.execute()
        listed.extend(page.get("files", []))
        request = drive.files().list_next(request, page)
    expected = {"id": created["id"], "name": "settings.txt", "size": str(len(content))}
    assert listed == [expected], (
        "a new user's appDataFolder must list exactly the file this app uploaded, with only the "
        f"fields asked for in the fields mask; got {listed}"
    )
    assert credentials.access_token == token, (
        "the exchanged access token itself must be accepted for uploads and listing, without a "
        "silent refresh"
    )


def test_refresh_gives_a_new_access_token_that_works_on_drive(emulator, signed_in):
    minted, credentials = signed_in
    first_token = credentials.access_token
    refresh_token = credentials.refresh_token

    credentials.refresh(httplib2.Http())

    assert credentials.access_token and credentials.access_token != first_token, (
        "a refresh must mint a new access token: it is how the server keeps working offline"
    )
    assert credentials.token_response.get("refresh_token") in (None, refresh_token), (
        "Google does not rotate refresh tokens on refresh; a new one would orphan the stored one"
    )
    if credentials.id_token is not None:
        assert credentials.id_token["sub"] == minted.sub, (
            "a refreshed ID token must still be about the same user"
        )
    drive = build_drive(emulator, BearerHttp(credentials.access_token))
    appfolder = drive.files().get(fileId="appfolder").execute()
    assert appfolder.get("id"), "Drive must accept the refreshed access token"


def test_revoke_ends_drive_access_and_refresh(emulator, signed_in):
    _, credentials = signed_in
    access_token = credentials.access_token

    credentials.revoke(httplib2.Http())  # oauth2client: GET revoke_uri?token=<refresh token>
    assert credentials.invalid, "oauth2client marks credentials invalid only on a 200 from revoke"

    drive_error = refused(
        HttpError,
        "revoking the refresh token kills the whole grant, its access tokens included",
        build_drive(emulator, BearerHttp(access_token)).files().get(fileId="appfolder").execute,
    )
    assert drive_error.resp.status == 401, (
        f"Drive must answer a revoked grant's access token with 401; got {drive_error.resp.status}"
    )
    try:
        body = json.loads(drive_error.content)["error"]
    except (ValueError, KeyError, TypeError):
        body = None
    assert isinstance(body, dict) and body.get("code") == 401, (
        "Drive answers errors with Google's JSON body {\"error\": {\"code\": 401, ...}}, which "
        f"clients read the reason from; got {drive_error.content[:300]!r}"
    )

    refresh_error = refused(
        client.HttpAccessTokenRefreshError,
        "a revoked refresh token must not mint access tokens",
        credentials.refresh,
        httplib2.Http(),
    )
    assert str(refresh_error).startswith("invalid_grant"), (
        "Google refuses a revoked refresh token with invalid_grant (the 'revoked' state "
        f"TokenDesk shows); oauth2client reported {str(refresh_error)!r}"
    )
    assert refresh_error.status == 400, "Google answers invalid_grant with HTTP 400"

    # The seed's authorized Http refreshes on a 401 and retries once: that refresh fails too.
    refused(
        client.HttpAccessTokenRefreshError,
        "after a revoke, the seed's Drive call must fail rather than refresh its way back in",
        build_drive(emulator, credentials.authorize(httplib2.Http()))
        .files()
        .get(fileId="appfolder")
        .execute,
    )


# --- google-auth: ID token verification -----------------------------------------------------

CERTS = pytest.mark.parametrize("certs_path", [CERTS_JWK, CERTS_PEM], ids=["jwk", "pem"])
WRONG_AUDIENCE_ERROR = {
    CERTS_JWK: jwt.exceptions.InvalidAudienceError,  # google-auth verifies JWKs with PyJWT
    CERTS_PEM: google.auth.exceptions.InvalidValue,  # and {kid: PEM} with google.auth.jwt
}


def assert_certs_shape(emulator, certs_path, kid):
    """google-auth picks its code path by the document's shape: make sure each path is taken."""
    certs = requests.get(emulator.base + certs_path, timeout=10).json()
    if certs_path == CERTS_JWK:
        kids = [key.get("kid") for key in certs.get("keys", [])]
        assert kid in kids, (
            f"{certs_path} must be a JWK set holding the token's kid {kid}; got {certs}"
        )
    else:
        assert "keys" not in certs and str(certs.get(kid, "")).startswith(
            "-----BEGIN CERTIFICATE-----"
        ), f"{certs_path} must map each kid to a PEM certificate, as Google does; got {certs}"


@CERTS
def test_google_auth_verifies_the_id_token(emulator, signed_in, certs_path):
    minted, credentials = signed_in
    id_token = raw_id_token(credentials)
    assert_certs_shape(emulator, certs_path, jwt.get_unverified_header(id_token).get("kid"))

    claims = verify(emulator, id_token, certs_path)

    assert claims["iss"] in GOOGLE_ISSUERS, (
        "iss must be one of Google's two issuers: Google's verifiers (google-auth's "
        f"verify_oauth2_token) refuse any other; got {claims['iss']!r}"
    )
    assert claims["aud"] == emulator.web_client_id, (
        "aud must be the server's (web) client id: the server verifies tokens meant for it"
    )
    assert claims.get("azp") == emulator.ios_client_id, (
        "azp must be the iOS client that signed the user in (Google's hybrid flow); TokenDesk "
        f"checks it against the configured client ids; got {claims.get('azp')!r}"
    )
    assert claims["sub"] == minted.sub and claims["email"] == minted.email, (
        "the verified claims must be the minted user's"
    )


@CERTS
def test_google_auth_refuses_a_wrong_audience(emulator, signed_in, certs_path):
    _, credentials = signed_in
    id_token = raw_id_token(credentials)
    verify(emulator, id_token, certs_path)  # so the refusal below is about the audience alone
    error = refused(
        WRONG_AUDIENCE_ERROR[certs_path],
        "a token whose aud is another client must be refused: it was not issued to this server",
        verify,
        emulator,
        id_token,
        certs_path,
        audience="someone-else.apps.googleusercontent.com",
    )
    assert "audience" in str(error).lower(), f"the refusal must be about the audience: {error!r}"


def test_tokens_signed_before_a_key_rotation_still_verify(emulator):
    before = raw_id_token(exchange(emulator, emulator.mint_code("before-rotation").code))
    kid_before = jwt.get_unverified_header(before)["kid"]

    rotated = emulator.admin("POST", "/emulator/v1/keys/rotate", json={})
    assert rotated["kid"] != kid_before, "a rotation must bring a new signing key"
    assert kid_before in rotated["kids"], (
        "the previous key must stay published after a rotation, as Google's does for about a day"
    )

    after = raw_id_token(exchange(emulator, emulator.mint_code("after-rotation").code))
    assert jwt.get_unverified_header(after)["kid"] == rotated["kid"], (
        "tokens minted after a rotation must be signed with the new key"
    )
    for certs_path in (CERTS_JWK, CERTS_PEM):
        for label, token in (("before", before), ("after", after)):
            try:
                verify(emulator, token, certs_path)
            except Exception as error:  # noqa: BLE001 - the message names which one failed
                pytest.fail(
                    f"a token signed {label} the rotation must verify against {certs_path}, or "
                    f"servers reject signed-in users during every rotation: {error!r}"
                )
