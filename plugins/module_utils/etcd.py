# -*- coding: utf-8 -*-
# Copyright: (c) 2026, crosshost.network contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small etcd client over HTTP: the v3 JSON gateway and the legacy v2 API.

It uses only ansible.module_utils.urls, so managed hosts need no extra Python
package. Endpoints are tried in order and the first that answers is kept, so
one dead member does not fail a task.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import os
import shutil
import ssl
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible.module_utils.six.moves.urllib.parse import urlencode, quote
from ansible.module_utils.urls import Request, make_context


def etcd_argument_spec():
    """Connection options shared by every module in the crosshost.network.etcd action group."""
    return dict(
        endpoints=dict(type='list', elements='str', default=['http://127.0.0.1:2379']),
        api_version=dict(type='str', default='v3', choices=['v3', 'v2']),
        ca_cert=dict(type='path'),
        client_cert=dict(type='path'),
        client_key=dict(type='path', no_log=False),
        ca_cert_content=dict(type='str'),
        client_cert_content=dict(type='str'),
        client_key_content=dict(type='str', no_log=True),
        validate_certs=dict(type='bool', default=True),
        username=dict(type='str'),
        password=dict(type='str', no_log=True),
        timeout=dict(type='float', default=5.0),
    )


class EtcdError(Exception):
    """etcd could not be reached or refused a request; the message says what to fix."""


class EtcdConflict(EtcdError):
    """A compare-and-swap lost: someone else changed the key since it was read."""


# etcd answers these when a member is alive but cannot serve (no leader, busy):
# another member may still serve, so they count as "try the next endpoint".
_RETRYABLE_STATUS = (500, 502, 503, 504)


def _b64(text):
    return to_text(base64.b64encode(to_bytes(text)))


def _unb64(text):
    return to_text(base64.b64decode(to_bytes(text or '')))


def _prefix_end(prefix):
    """The first key after every key that starts with prefix (etcd's range_end idiom)."""
    raw = bytearray(to_bytes(prefix))
    raw[-1] += 1
    return bytes(raw)


class _Transport(object):
    def __init__(self, endpoints, ca_cert=None, client_cert=None, client_key=None,
                 validate_certs=True, timeout=5.0):
        if not endpoints:
            raise EtcdError("endpoints: empty; give at least one etcd client URL such as "
                            "https://10.0.0.1:2379")
        for field, path in (('ca_cert', ca_cert), ('client_cert', client_cert), ('client_key', client_key)):
            if path and not os.path.isfile(path):
                raise EtcdError("%s: file %s does not exist on this host; fix the path or copy the "
                                "file there first" % (field, path))
        if bool(client_cert) != bool(client_key):
            raise EtcdError("client_cert and client_key: give both or neither (mutual TLS needs the "
                            "certificate and its key)")
        for url in endpoints:
            if not (url.startswith('http://') or url.startswith('https://')):
                raise EtcdError("endpoints: %r is not an http:// or https:// URL; write it as "
                                "https://HOST:2379" % url)
        self.endpoints = [url.rstrip('/') for url in endpoints]
        self.endpoint = None
        self.headers = {}
        # One TLS context for all requests: building it (loading the CA bundle) costs
        # more than an etcd round trip. Plain-HTTP endpoints never use it.
        if any(url.startswith('https://') for url in self.endpoints):
            try:
                context = make_context(cafile=ca_cert, validate_certs=validate_certs,
                                       client_cert=client_cert, client_key=client_key)
            except (ssl.SSLError, IOError, OSError) as e:
                raise EtcdError("ca_cert/client_cert/client_key: cannot load the TLS files (%s); check that "
                                "they are PEM files and that the key belongs to the certificate" % e)
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        # etcd is cluster-internal: never send its traffic (or credentials) to a proxy.
        self.request = Request(timeout=timeout, use_proxy=False, context=context)

    def call(self, method, path, body=None, headers=None):
        """Send one request, failing over across endpoints; return (status, decoded JSON)."""
        order = list(self.endpoints)
        if self.endpoint in order:
            order.remove(self.endpoint)
            order.insert(0, self.endpoint)
        failures = []
        merged = dict(self.headers)
        merged.update(headers or {})
        for endpoint in order:
            try:
                response = self.request.open(method, endpoint + path, data=body, headers=merged)
                status, raw = response.getcode(), response.read()
            except HTTPError as e:
                status, raw = e.code, e.read()
                if status in _RETRYABLE_STATUS:
                    failures.append('%s: HTTP %d %s' % (endpoint, status, to_text(raw)[:200]))
                    continue
            except Exception as e:  # connection refused, timeout, TLS failure ...
                failures.append('%s: %s' % (endpoint, e))
                continue
            self.endpoint = endpoint
            try:
                payload = json.loads(to_text(raw)) if raw else {}
            except ValueError:
                payload = {'message': to_text(raw)[:200]}
            return status, payload
        raise EtcdError("no etcd endpoint answered (%s). Check that etcd runs and is reachable from "
                        "this host, that the URLs and TLS files are right, or fix `endpoints`"
                        % '; '.join(failures))


class EtcdV3(object):
    """Keys through etcd's v3 gRPC-JSON gateway (/v3/kv/*), with compare-and-swap writes."""

    api_version = 'v3'

    def __init__(self, username=None, password=None, **transport_options):
        self.transport = _Transport(**transport_options)
        self.transport.headers['Content-Type'] = 'application/json'
        if username:
            self._authenticate(username, password or '')

    @property
    def endpoint(self):
        return self.transport.endpoint

    def _post(self, path, payload):
        status, answer = self.transport.call('POST', path, body=json.dumps(payload))
        if status >= 400:
            message = answer.get('message') or answer.get('error') or answer
            raise EtcdError("etcd at %s refused %s: HTTP %d %s" % (self.endpoint, path, status, message))
        return answer

    def _authenticate(self, username, password):
        answer = self._post('/v3/auth/authenticate', {'name': username, 'password': password})
        if not answer.get('token'):
            raise EtcdError("username: etcd did not accept the credentials of %r; check username "
                            "and password" % username)
        self.transport.headers['Authorization'] = answer['token']

    def get(self, key):
        """Return (value, mod_revision); (None, 0) when the key does not exist."""
        answer = self._post('/v3/kv/range', {'key': _b64(key)})
        for kv in answer.get('kvs') or []:
            return _unb64(kv.get('value')), int(kv.get('mod_revision', 0))
        return None, 0

    def get_prefix(self, prefix):
        """Return [(key, value)] for every key under prefix, in key order."""
        answer = self._post('/v3/kv/range', {
            'key': _b64(prefix),
            'range_end': to_text(base64.b64encode(_prefix_end(prefix))),
        })
        return [(_unb64(kv.get('key')), _unb64(kv.get('value'))) for kv in answer.get('kvs') or []]

    def _txn(self, key, mod_revision, operation):
        # mod_revision 0 means "the key must still be absent"; etcd compares
        # create_revision == 0 for that.
        if mod_revision:
            compare = {'key': _b64(key), 'target': 'MOD', 'result': 'EQUAL',
                       'mod_revision': str(mod_revision)}
        else:
            compare = {'key': _b64(key), 'target': 'CREATE', 'result': 'EQUAL', 'create_revision': '0'}
        answer = self._post('/v3/kv/txn', {'compare': [compare], 'success': [operation]})
        if not answer.get('succeeded'):
            raise EtcdConflict("%s changed in etcd while this task ran (another writer?); run the "
                               "task again" % key)

    def put(self, key, value, mod_revision):
        self._txn(key, mod_revision, {'request_put': {'key': _b64(key), 'value': _b64(value)}})

    def delete(self, key, mod_revision):
        self._txn(key, mod_revision, {'request_delete_range': {'key': _b64(key)}})


class EtcdV2(object):
    """Keys through etcd's legacy v2 API (/v2/keys), for flanneld older than v0.18."""

    api_version = 'v2'

    def __init__(self, username=None, password=None, **transport_options):
        self.transport = _Transport(**transport_options)
        if username:
            token = base64.b64encode(to_bytes('%s:%s' % (username, password or '')))
            self.transport.headers['Authorization'] = 'Basic ' + to_text(token)

    @property
    def endpoint(self):
        return self.transport.endpoint

    def _keys(self, method, key, query=None, form=None):
        path = '/v2/keys' + quote(key)
        if query:
            path += '?' + urlencode(query)
        headers = {'Content-Type': 'application/x-www-form-urlencoded'} if form else None
        status, answer = self.transport.call(method, path, body=urlencode(form) if form else None,
                                             headers=headers)
        if status == 404 and answer.get('errorCode') == 100:
            return None
        if status == 404:
            raise EtcdError("etcd at %s has no v2 API (HTTP 404); start etcd with --enable-v2 or use "
                            "api_version: v3" % self.endpoint)
        if status == 412:
            raise EtcdConflict("%s changed in etcd while this task ran (another writer?); run the "
                               "task again" % key)
        if status >= 400:
            raise EtcdError("etcd at %s refused %s %s: HTTP %d %s"
                            % (self.endpoint, method, key, status, answer.get('message', answer)))
        return answer

    def get(self, key):
        answer = self._keys('GET', key)
        if answer is None:
            return None, 0
        node = answer.get('node', {})
        return node.get('value'), int(node.get('modifiedIndex', 0))

    def get_prefix(self, prefix):
        answer = self._keys('GET', prefix.rstrip('/'), query={'recursive': 'true'})
        found = []

        def walk(node):
            for child in node.get('nodes') or []:
                if child.get('dir'):
                    walk(child)
                elif child.get('key', '').startswith(prefix):
                    found.append((child['key'], child.get('value')))
        if answer:
            walk(answer.get('node', {}))
        return sorted(found)

    def put(self, key, value, mod_revision):
        query = {'prevIndex': mod_revision} if mod_revision else {'prevExist': 'false'}
        self._keys('PUT', key, query=query, form={'value': value})

    def delete(self, key, mod_revision):
        self._keys('DELETE', key, query={'prevIndex': mod_revision})


# A TLS file given as text instead of a path: the option pairs.
_TLS_CONTENT_OPTIONS = (('ca_cert', 'ca_cert_content'), ('client_cert', 'client_cert_content'),
                        ('client_key', 'client_key_content'))


def etcd_client(params):
    """Build the client for the module's connection options.

    A TLS file given as *_content (text from the controller, for a host that does not
    hold the files yet) goes to a private scratch directory only while the TLS context
    loads it: the context keeps the certificates and key in memory."""
    options = dict((name, params.get(name)) for name in etcd_argument_spec())
    version = options.pop('api_version') or 'v3'
    contents = dict((path_option, options.pop(content_option))
                    for path_option, content_option in _TLS_CONTENT_OPTIONS)
    scratch = None
    try:
        for path_option, content_option in _TLS_CONTENT_OPTIONS:
            text = contents[path_option]
            if text is None:
                continue
            if options[path_option]:
                raise EtcdError("%s and %s: give one of them (a file on the host, or its text)"
                                % (path_option, content_option))
            if scratch is None:
                scratch = tempfile.mkdtemp(prefix='crosshost-etcd-tls-')   # mode 0700
            path = os.path.join(scratch, path_option + '.pem')
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, 'w') as handle:
                handle.write(text)
            options[path_option] = path
        return (EtcdV2 if version == 'v2' else EtcdV3)(**options)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
