// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC1155Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {IERC1155MetadataURI} from "@openzeppelin/contracts/token/ERC1155/extensions/IERC1155MetadataURI.sol";
import {ERC1155Utils} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Utils.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {ERC165, IERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title ERC-1155 with balances allocated lazily per minted batch
/// @notice An ERC-1155 base whose batch mint writes no balance slot. The batch's holder,
/// a commitment and the packed quantities go into the code of one data contract (code
/// costs 200 gas per byte, a new storage slot 22,100 gas), and one bit marks where the
/// batch starts. Until a token of the batch first moves, its whole quantity belongs to
/// the batch holder, and the first move or burn writes the holder's balance.
/// Ids minted with {_mint} and {_mintBatch} have plain balances, as in OpenZeppelin's
/// ERC-1155, whose internal functions, events and errors this base keeps.
/// @dev Ids are consecutive from 1 and handed out by {_mintLazyBatch} and {_takeIds}, so
/// lazy batches and plain ids share one sequence. A batch has at most `MAX_BATCH_SIZE`
/// ids, so finding the batch of an id reads at most two bitmap words, whatever the number
/// of batches; an id past the end of the batch found belongs to no batch. The batch
/// holder's balance slot carries `_TOUCHED` (bit 255) once written, so a zero balance
/// after a move is told apart from "never moved". Balances stay below 2^255.
abstract contract LazyBatchBalances is Context, ERC165, IERC1155, IERC1155MetadataURI, IERC1155Errors {
    /*//////////////////////////////////////////////////////////////
                                CONSTANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Most ids in one lazily minted batch.
    uint256 public constant MAX_BATCH_SIZE = 256;

    uint256 private constant _TOUCHED = 1 << 255;
    // Data contract init code: PUSH2 len, DUP1, PUSH1 10, RETURNDATASIZE, CODECOPY,
    // RETURNDATASIZE, RETURN. Its runtime code is a STOP byte, then the batch data.
    uint256 private constant _INIT_CODE_BYTES = 10;
    // Batch data layout: holder (20 bytes), commitment (32), then 8 bytes per quantity.
    uint256 private constant _HOLDER_OFFSET = 1;
    uint256 private constant _COMMITMENT_OFFSET = 21;
    uint256 private constant _QUANTITIES_OFFSET = 53;
    // Memory offset, from a `bytes` pointer, of the 32-byte word whose last 8 bytes are
    // quantity 0: 32 (length word) + 10 (init code) + 53 (quantities offset) + 8 - 32.
    uint256 private constant _FIRST_QUANTITY_WORD = 71;

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice A lazily minted batch was empty or had more than `MAX_BATCH_SIZE` ids.
    /// @param size The number of ids in the batch.
    error LazyBatchBalancesInvalidBatchSize(uint256 size);

    /// @notice A lazily minted quantity was zero or did not fit in 64 bits.
    /// @param id The id minted with the quantity.
    /// @param quantity The rejected quantity.
    error LazyBatchBalancesInvalidQuantity(uint256 id, uint256 quantity);

    /// @notice A credit would have brought the balance of `id` held by `account` to 2^255
    /// or more; balances stay below 2^255.
    /// @param id The id credited.
    /// @param account The account whose balance would overflow.
    error LazyBatchBalancesBalanceOverflow(uint256 id, address account);

    /// @notice Creating the data contract of a batch failed.
    error LazyBatchBalancesDataNotStored();

    /// @notice A plain mint named an id that {_takeIds} has not handed out.
    /// @param id The id, zero or above the last id handed out.
    error LazyBatchBalancesIdNotTaken(uint256 id);

    /*//////////////////////////////////////////////////////////////
                                 STORAGE
    //////////////////////////////////////////////////////////////*/

    // Raw balance slots: the amount, plus `_TOUCHED` in the batch holder's slot of a lazy id.
    mapping(uint256 id => mapping(address account => uint256)) private _balances;
    mapping(address account => mapping(address operator => bool)) private _operatorApprovals;
    // Bit (id & 255) of word (id >> 8) is set when a lazy batch starts at `id`.
    mapping(uint256 word => uint256) private _batchStarts;
    // A batch's data contract in the low 160 bits and its mint's block number above them,
    // so that a reader finds the batch's logs in one block; one slot either way.
    mapping(uint256 firstId => uint256) private _batchData;
    uint256 private _lastId;
    string private _uri;

    /// @param uri_ The metadata URI of every id, as {uri} returns it.
    constructor(string memory uri_) {
        _uri = uri_;
    }

    /*//////////////////////////////////////////////////////////////
                                 ERC-1155
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IERC165
    function supportsInterface(bytes4 interfaceId) public view virtual override(ERC165, IERC165) returns (bool) {
        return interfaceId == type(IERC1155).interfaceId || interfaceId == type(IERC1155MetadataURI).interfaceId
            || super.supportsInterface(interfaceId);
    }

    /// @inheritdoc IERC1155MetadataURI
    function uri(uint256) public view virtual returns (string memory) {
        return _uri;
    }

    /// @inheritdoc IERC1155
    function balanceOf(address account, uint256 id) public view virtual returns (uint256) {
        uint256 raw = _balances[id][account];
        if (raw != 0) return raw & ~_TOUCHED;
        return _untouchedAllocation(account, id);
    }

    /// @inheritdoc IERC1155
    function balanceOfBatch(address[] memory accounts, uint256[] memory ids)
        public
        view
        virtual
        returns (uint256[] memory balances)
    {
        if (accounts.length != ids.length) revert ERC1155InvalidArrayLength(ids.length, accounts.length);
        balances = new uint256[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            balances[i] = balanceOf(accounts[i], ids[i]);
        }
    }

    /// @inheritdoc IERC1155
    function setApprovalForAll(address operator, bool approved) public virtual {
        _setApprovalForAll(_msgSender(), operator, approved);
    }

    /// @inheritdoc IERC1155
    function isApprovedForAll(address account, address operator) public view virtual returns (bool) {
        return _operatorApprovals[account][operator];
    }

    /// @inheritdoc IERC1155
    function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes memory data) public virtual {
        _checkOperator(from);
        _safeTransferFrom(from, to, id, value, data);
    }

    /// @inheritdoc IERC1155
    function safeBatchTransferFrom(
        address from,
        address to,
        uint256[] memory ids,
        uint256[] memory values,
        bytes memory data
    ) public virtual {
        _checkOperator(from);
        _safeBatchTransferFrom(from, to, ids, values, data);
    }

    /*//////////////////////////////////////////////////////////////
                          BALANCE CHANGES
    //////////////////////////////////////////////////////////////*/

    /// @notice Moves `values[i]` of `ids[i]` from `from` to `to`; the zero address as `from`
    /// mints, as `to` burns. Emits {TransferSingle} for one id, else {TransferBatch}.
    /// @dev Runs no receiver check; {_updateWithAcceptanceCheck} does. Reverts with
    /// {ERC1155InvalidArrayLength} and {ERC1155InsufficientBalance}.
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values) internal virtual {
        if (ids.length != values.length) revert ERC1155InvalidArrayLength(ids.length, values.length);
        for (uint256 i = 0; i < ids.length; ++i) {
            uint256 id = ids[i];
            uint256 value = values[i];
            if (from != address(0)) _debit(from, id, value);
            if (to != address(0)) _credit(to, id, value);
        }
        _emitTransfer(from, to, ids, values);
    }

    /// @notice {_update}, then the ERC-1155 receiver check on `to` unless it burns.
    /// @dev Overriders that add events between the balance change and the receiver check
    /// must run both themselves.
    function _updateWithAcceptanceCheck(
        address from,
        address to,
        uint256[] memory ids,
        uint256[] memory values,
        bytes memory data
    ) internal virtual {
        _update(from, to, ids, values);
        if (to != address(0)) _checkAcceptance(from, to, ids, values, data);
    }

    /// @notice Runs the receiver check on `to` for a move of `ids` from `from`.
    function _checkAcceptance(
        address from,
        address to,
        uint256[] memory ids,
        uint256[] memory values,
        bytes memory data
    ) internal {
        address operator = _msgSender();
        if (ids.length == 1) {
            ERC1155Utils.checkOnERC1155Received(operator, from, to, ids[0], values[0], data);
        } else {
            ERC1155Utils.checkOnERC1155BatchReceived(operator, from, to, ids, values, data);
        }
    }

    /// @notice Moves `value` of `id` from `from` to `to`, with the receiver check.
    function _safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes memory data) internal {
        _checkParties(from, to);
        (uint256[] memory ids, uint256[] memory values) = _singletons(id, value);
        _updateWithAcceptanceCheck(from, to, ids, values, data);
    }

    /// @notice Moves `values[i]` of `ids[i]` from `from` to `to`, with the receiver check.
    function _safeBatchTransferFrom(
        address from,
        address to,
        uint256[] memory ids,
        uint256[] memory values,
        bytes memory data
    ) internal {
        _checkParties(from, to);
        _updateWithAcceptanceCheck(from, to, ids, values, data);
    }

    /// @notice Mints `value` of `id` to `to` with a plain balance. `id` must come from
    /// {_takeIds}: a credit to the untouched holder of a lazy id would hide the lazy
    /// allocation. Only ids never handed out are rejected here, because telling a lazy
    /// id apart costs cold reads of its batch on every mint.
    function _mint(address to, uint256 id, uint256 value, bytes memory data) internal {
        if (to == address(0)) revert ERC1155InvalidReceiver(address(0));
        _checkTaken(id);
        (uint256[] memory ids, uint256[] memory values) = _singletons(id, value);
        _updateWithAcceptanceCheck(address(0), to, ids, values, data);
    }

    /// @notice Mints `values[i]` of `ids[i]` to `to` with plain balances. Every id must
    /// come from {_takeIds}, as for {_mint}.
    function _mintBatch(address to, uint256[] memory ids, uint256[] memory values, bytes memory data) internal {
        if (to == address(0)) revert ERC1155InvalidReceiver(address(0));
        for (uint256 i = 0; i < ids.length; ++i) {
            _checkTaken(ids[i]);
        }
        _updateWithAcceptanceCheck(address(0), to, ids, values, data);
    }

    /// @notice Burns `value` of `id` from `from`.
    function _burn(address from, uint256 id, uint256 value) internal {
        if (from == address(0)) revert ERC1155InvalidSender(address(0));
        (uint256[] memory ids, uint256[] memory values) = _singletons(id, value);
        _updateWithAcceptanceCheck(from, address(0), ids, values, "");
    }

    /// @notice Burns `values[i]` of `ids[i]` from `from`.
    function _burnBatch(address from, uint256[] memory ids, uint256[] memory values) internal {
        if (from == address(0)) revert ERC1155InvalidSender(address(0));
        _updateWithAcceptanceCheck(from, address(0), ids, values, "");
    }

    /// @notice Sets the metadata URI of every id.
    function _setURI(string memory newUri) internal virtual {
        _uri = newUri;
    }

    /// @notice Lets `operator` move all of `owner`'s tokens, or stops it. Emits {ApprovalForAll}.
    function _setApprovalForAll(address owner, address operator, bool approved) internal virtual {
        if (operator == address(0)) revert ERC1155InvalidOperator(address(0));
        _operatorApprovals[owner][operator] = approved;
        emit ApprovalForAll(owner, operator, approved);
    }

    /*//////////////////////////////////////////////////////////////
                                 BATCHES
    //////////////////////////////////////////////////////////////*/

    /// @notice Returns the last id handed out; ids run from 1 to this number.
    function _lastTokenId() internal view returns (uint256) {
        return _lastId;
    }

    /// @notice Hands out `count` new consecutive ids for plain mints, and returns the first.
    function _takeIds(uint256 count) internal returns (uint256 firstId) {
        firstId = _lastId + 1;
        _lastId = _lastId + count;
    }

    /// @notice Returns the lazy batch that contains `id`: its first id, its number of ids
    /// and its data contract; all zero when `id` belongs to no batch.
    function _batchOf(uint256 id) internal view returns (uint256 firstId, uint256 count, address data) {
        if (id == 0 || id > _lastId) return (0, 0, address(0));
        uint256 word = id >> 8;
        uint256 starts = _batchStarts[word] & (type(uint256).max >> (255 - (id & 255)));
        // A batch has at most 256 ids, so the start of the batch holding `id` is in this
        // word or the one before.
        if (starts == 0) {
            if (word == 0) return (0, 0, address(0));
            word -= 1;
            starts = _batchStarts[word];
            if (starts == 0) return (0, 0, address(0));
        }
        uint256 first = (word << 8) | Math.log2(starts);
        address found = address(uint160(_batchData[first]));
        uint256 size = (found.code.length - _QUANTITIES_OFFSET) / 8;
        if (id - first >= size) return (0, 0, address(0));
        return (first, size, found);
    }

    /// @notice Returns the number of the block in which the batch starting at `firstId`
    /// was minted; zero when no batch starts there.
    function _batchBlock(uint256 firstId) internal view returns (uint256) {
        return _batchData[firstId] >> 160;
    }

    /// @notice Returns the commitment stored in the batch data contract `data`.
    function _batchCommitment(address data) internal view returns (bytes32 commitment) {
        assembly ("memory-safe") {
            extcodecopy(data, 0x00, _COMMITMENT_OFFSET, 32)
            commitment := mload(0x00)
        }
    }

    /// @notice Mints `quantities[i]` of the new ids `firstId + i` to `holder` without
    /// writing any balance, and stores `commitment` with the batch.
    /// @dev Emits {TransferBatch} from the zero address ({TransferSingle} for one id), then
    /// runs the receiver check; {_update} and {_updateWithAcceptanceCheck} do not run.
    function _mintLazyBatch(address holder, bytes32 commitment, uint256[] memory quantities)
        internal
        returns (uint256 firstId)
    {
        uint256 count = quantities.length;
        if (count == 0 || count > MAX_BATCH_SIZE) revert LazyBatchBalancesInvalidBatchSize(count);
        if (holder == address(0)) revert ERC1155InvalidReceiver(address(0));

        firstId = _lastId + 1;
        uint256[] memory ids = new uint256[](count);
        bytes memory code = new bytes(_INIT_CODE_BYTES + _QUANTITIES_OFFSET + count * 8);
        // Quantities are written last to first: each 32-byte store also zeroes the 24 bytes
        // before its 8 bytes, which a later store (or the header) writes again.
        for (uint256 i = count; i > 0;) {
            // Cannot underflow: the loop runs only while i > 0.
            unchecked {
                --i;
            }
            uint256 quantity = quantities[i];
            if (quantity == 0 || quantity > type(uint64).max) {
                revert LazyBatchBalancesInvalidQuantity(firstId + i, quantity);
            }
            ids[i] = firstId + i;
            assembly ("memory-safe") {
                mstore(add(code, add(_FIRST_QUANTITY_WORD, mul(i, 8))), quantity)
            }
        }
        uint256 runtimeBytes = code.length - _INIT_CODE_BYTES;
        address data;
        assembly ("memory-safe") {
            let start := add(code, 0x20)
            mstore(start, or(shl(248, 0x61), or(shl(232, runtimeBytes), shl(176, 0x80600a3d393df3))))
            mstore8(add(start, _INIT_CODE_BYTES), 0x00)
            mstore(add(start, add(_INIT_CODE_BYTES, _HOLDER_OFFSET)), shl(96, holder))
            mstore(add(start, add(_INIT_CODE_BYTES, _COMMITMENT_OFFSET)), commitment)
            data := create(0, start, mload(code))
        }
        if (data == address(0)) revert LazyBatchBalancesDataNotStored();

        _batchData[firstId] = uint256(uint160(data)) | (block.number << 160);
        _batchStarts[firstId >> 8] |= 1 << (firstId & 255);
        _lastId = firstId + count - 1;

        _emitTransfer(address(0), holder, ids, quantities);
        _checkAcceptance(address(0), holder, ids, quantities, "");
    }

    /*//////////////////////////////////////////////////////////////
                                 PRIVATE
    //////////////////////////////////////////////////////////////*/

    // Takes `value` of `id` from `from`, writing the batch holder's balance (with the flag)
    // on the first move of a lazy id.
    function _debit(address from, uint256 id, uint256 value) private {
        uint256 raw = _balances[id][from];
        if (raw == 0) {
            uint256 allocated = _untouchedAllocation(from, id);
            if (allocated != 0) raw = allocated | _TOUCHED;
        }
        uint256 balance = raw & ~_TOUCHED;
        if (balance < value) revert ERC1155InsufficientBalance(from, balance, value, id);
        // Cannot underflow: checked just above. The flag bit stays as it was.
        unchecked {
            _balances[id][from] = raw - value;
        }
    }

    // Adds `value` of `id` to `to`. Only the batch holder can hold a lazy id before its
    // first move, and that move writes the holder's slot. So a credit never meets an
    // unwritten allocation, as long as lazy ids are never minted again.
    function _credit(address to, uint256 id, uint256 value) private {
        uint256 raw = _balances[id][to];
        // The amount stays below 2^255. Comparing `value` with the room left, rather than
        // adding first, also rejects a credit that would wrap past 2^256.
        if (value >= _TOUCHED - (raw & ~_TOUCHED)) revert LazyBatchBalancesBalanceOverflow(id, to);
        // Cannot overflow: the new amount is below 2^255 and the flag bit stays as it was.
        unchecked {
            _balances[id][to] = raw + value;
        }
    }

    // The quantity of `id` that `account` holds because nothing moved it since the lazy
    // mint: the minted quantity for the batch holder whose slot is still empty, else zero.
    function _untouchedAllocation(address account, uint256 id) private view returns (uint256 quantity) {
        (uint256 firstId,, address data) = _batchOf(id);
        if (data == address(0)) return 0;
        address holder;
        uint256 offset = _QUANTITIES_OFFSET + (id - firstId) * 8;
        assembly ("memory-safe") {
            mstore(0x00, 0)
            extcodecopy(data, 12, _HOLDER_OFFSET, 20)
            holder := mload(0x00)
            mstore(0x00, 0)
            extcodecopy(data, 24, offset, 8)
            quantity := mload(0x00)
        }
        return holder == account ? quantity : 0;
    }

    function _emitTransfer(address from, address to, uint256[] memory ids, uint256[] memory values) private {
        if (ids.length == 1) {
            emit TransferSingle(_msgSender(), from, to, ids[0], values[0]);
        } else {
            emit TransferBatch(_msgSender(), from, to, ids, values);
        }
    }

    /// @notice Reverts unless the caller is `from` or an operator approved by `from`.
    function _checkOperator(address from) internal view {
        address operator = _msgSender();
        if (from != operator && !isApprovedForAll(from, operator)) {
            revert ERC1155MissingApprovalForAll(operator, from);
        }
    }

    function _checkTaken(uint256 id) private view {
        if (id == 0 || id > _lastId) revert LazyBatchBalancesIdNotTaken(id);
    }

    function _checkParties(address from, address to) private pure {
        if (to == address(0)) revert ERC1155InvalidReceiver(address(0));
        if (from == address(0)) revert ERC1155InvalidSender(address(0));
    }

    function _singletons(uint256 id, uint256 value)
        private
        pure
        returns (uint256[] memory ids, uint256[] memory values)
    {
        ids = new uint256[](1);
        ids[0] = id;
        values = new uint256[](1);
        values[0] = value;
    }
}
